"""vLLM, the engine an LLM model runs on: the pinned release and the command line rendered from the config.

Pure functions, no Pulumi. Every flag rendered here, the metric names the autoscaler queries and the paths the
probes use are facts of vLLM at the pinned version, recorded in ``data/vllm_facts.json`` (generated from the
release's wheel by ``tools/vllm_facts.py``; sources in ``data/UPSTREAM.md``, "vLLM"), and tests hold this module
to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: The pinned vLLM release (PyPI vllm, git tag v0.33.0); its OpenAI-compatible server image.
VERSION = "0.33.0"
IMAGE = f"docker.io/vllm/vllm-openai:v{VERSION}"
#: The image's server, run as `vllm serve <model> [flags]` (the wheel's console script `vllm`).
COMMAND = ("vllm", "serve")
#: The OpenAI-compatible server's default port (FrontendArgs.port).
PORT = 8000
#: Paths the server answers: liveness/readiness, Prometheus metrics, and the OpenAI API the ALB routes.
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
OPENAI_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/models")
#: Scheduler gauges: requests in the running batch, and requests queued for it (vllm/v1/metrics/loggers.py).
METRIC_RUNNING = "vllm:num_requests_running"
METRIC_WAITING = "vllm:num_requests_waiting"
#: How long the API server waits for the engine cores to come up before it gives up (envs.py, default 600 s):
#: a large model's weight load can take longer, so the pod sets it to its start-up budget.
ENGINE_READY_ENV = "VLLM_ENGINE_READY_TIMEOUT_S"
ENGINE_READY_DEFAULT_SECONDS = 600


@dataclass(frozen=True)
class EngineArgs:
    """What the config decides about one engine: the flags below, nothing else."""

    model: str
    """Where the server reads the weights (a local folder once they are cached on the node)."""
    served_model_name: str
    tensor_parallel_size: int
    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float
    port: int = PORT
    kv_cache_dtype: str = "auto"
    quantization: Optional[str] = None
    shutdown_timeout_seconds: int = 0
    """Seconds the engine waits for requests in flight on SIGTERM (vLLM's default 0 aborts them)."""
    revision: Optional[str] = None
    """The Hugging Face branch, tag or commit vLLM downloads (hf:// weights it downloads itself)."""


#: The flags `args` renders, by EngineArgs field (tests check each against vLLM's own argument definitions).
FLAGS = {
    "served_model_name": "--served-model-name",
    "tensor_parallel_size": "--tensor-parallel-size",
    "max_model_len": "--max-model-len",
    "max_num_seqs": "--max-num-seqs",
    "gpu_memory_utilization": "--gpu-memory-utilization",
    "port": "--port",
    "kv_cache_dtype": "--kv-cache-dtype",
    "quantization": "--quantization",
    "shutdown_timeout_seconds": "--shutdown-timeout",
    "revision": "--revision",
}


def args(e: EngineArgs) -> list[str]:
    """The container args after `vllm serve`: the model path, then one `--flag value` per setting."""
    out = [e.model]
    for field, flag in FLAGS.items():
        v = getattr(e, field)
        if v is None or (field == "kv_cache_dtype" and v == "auto"):
            continue
        out += [flag, f"{v:g}" if isinstance(v, float) else str(v)]
    return out


def load_query(namespace: str, service: str) -> str:
    """Requests one engine holds (running + waiting), summed over the model's pods: what KEDA divides by the
    per-replica target. Prometheus scrapes the engine through the model's Service annotations (the prometheus
    chart's `kubernetes-service-endpoints` job, which labels series with `namespace` and `service`)."""
    sel = f'namespace="{namespace}",service="{service}"'
    return f"sum({METRIC_RUNNING}{{{sel}}}) + sum({METRIC_WAITING}{{{sel}}})"


def shm_size(tensor_parallel: int) -> str:
    """/dev/shm for the pod: NCCL moves tensor-parallel traffic through shared memory between the GPU worker
    processes; 1 GiB per GPU worker above one, and 1 GiB for a single GPU (PyTorch's DataLoader and tokenizer
    workers), our sizing rule (the container runtime's default of 64 MiB is far below NCCL's buffers)."""
    return f"{max(1, tensor_parallel)}Gi"
