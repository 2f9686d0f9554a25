"""LLM models, planned: architecture read, GPUs sized (capacity/llm.py), and the model's config filled in for vLLM.

For each model with `llm`, :func:`expand` reads the architecture (the committed config.json, or `architecture`),
picks the cheapest instance type x tensor-parallel degree among the types its node group may use (spot prices when
the group is spot), and returns the model's config as the rest of modelstack plans and renders any model: GPUs and
the GPU model as `compute`, vLLM's command line, /dev/shm, probes whose start-up budget follows the weights' size,
a drain as long as the engine's shutdown timeout, autoscaling on the engine's own queue (signal `llm`), the
cold-start budget, and read-only S3 access to the weights through the model's own role. The node groups are then
designed or chosen for that `compute` as for every model, so the plan, its cost and its recorded choices see the
LLM like any other GPU model. Problems come back as config issues, reported with every other one.

Weights path: node-local NVMe. The LLM's pods run on types with instance-store NVMe; an init container copies
the weights from S3 into an emptyDir on it (Karpenter's EC2NodeClass `instanceStorePolicy: RAID0` puts the
kubelet's and containerd's folders, so emptyDir and image layers, on the RAID of the instance stores), and vLLM
loads them from there. Why not Mountpoint for S3: a FUSE read path for vLLM's loader, plus a cluster add-on and a
driver role, with no faster first load; README "LLMs" has the comparison.

With `llm.node_cache` the copy is once per node instead of once per pod: the init container fills
`<WEIGHTS_CACHE_ROOT>/<namespace>.<model>.<digest of the weights source>` on the RAID (a hostPath the node
prepares), downloading into a folder of its own and renaming it into place, so pods starting together on one
node never see a partial copy; the engine mounts only that entry, read-only. Hugging Face weights go the same way
(the engine image's huggingface_hub downloads them), with the token Secret as HF_TOKEN in that init container.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from pydantic import ValidationError

from modelstack.capacity import llm as sizing_llm
from modelstack.capacity import pricing
from modelstack.config import schema as cfg
from modelstack.config.checks import pod_requests, selection_of
from modelstack.config.schema import ConfigIssue, LlmArchitecture, Platform, duration_seconds
from modelstack.planner import design as design_mod
from modelstack.planner import prices as prices_mod
from modelstack.render import node_templates, timeouts, vllm

#: Where the weights live in the pod (an emptyDir on the node's instance-store NVMe, or the node cache's entry).
WEIGHTS_MOUNT = "/models"
#: Where the weights' init container sees the whole node cache folder (read-write; the engine never does).
NODE_CACHE_MOUNT = "/node-cache"
#: The variable huggingface_hub reads an access token from (before HUGGING_FACE_HUB_TOKEN and the token file);
#: vLLM passes none of its own (data/UPSTREAM.md, "LLM weights").
HF_TOKEN_ENV = "HF_TOKEN"
#: Hugging Face's default branch: the revision of an hf:// id without `@revision`.
HF_DEFAULT_REVISION = "main"
#: The image that copies the weights from S3 (AWS CLI v2; data/UPSTREAM.md "LLM weights").
COPY_IMAGE = "public.ecr.aws/aws-cli/aws-cli:2.27.0"

# Cold-start figures (data/UPSTREAM.md "LLM cold start", each with its source and date).
#: S3 to the node's disk with parallel ranged GETs: 130 GB of Llama-2-70B in 4 min 25 s as Anyscale measured
#: before their optimisations (anyscale.com blog "Loading Llama-2 70b 20x faster", 2023-10), about 0.49 GB/s.
S3_COPY_BYTES_PER_SECOND = 130e9 / 265
#: Hugging Face to the node, as vLLM downloads an hf:// model at start: 16.06 GB of Llama-3.1-8B-Instruct in 61 s
#: (tensorfuse.io blog "Reducing GPU cold start", 2025-09-01), about 0.26 GB/s.
HF_DOWNLOAD_BYTES_PER_SECOND = 16.06e9 / 61
#: Disk to GPU memory with vLLM's default safetensors loader: 15 GB of Llama-3-8B in 47.99 s on a g5.12xlarge
#: (Run:ai Model Streamer benchmarks whitepaper, 2024-10-29, GP3 SSD), about 0.31 GB/s.
LOAD_BYTES_PER_SECOND = 15e9 / 47.99
#: vLLM's start past the weights, caches cold: torch.compile (10 s + 42 s), CUDA graph capture (54 s), engine
#: and imports (94 s) for Llama-3.1-8B on an L40S (tensorfuse.io blog "Reducing GPU cold start", 2025-09-01).
ENGINE_INIT_SECONDS = 10 + 42 + 54 + 94
#: The longest default engine shutdown: the schema's bound on `llm.shutdown_timeout` (grace stays under 3600 s).
MAX_SHUTDOWN_SECONDS = 3000
#: Start-up probe period; the failure threshold covers the budget.
STARTUP_PERIOD_SECONDS = 10


@dataclass(frozen=True)
class LlmPlan:
    """What the plan says about one LLM, and what ModelAPI gets beyond the model's config."""

    model: str
    option: sizing_llm.Option
    architecture: sizing_llm.Architecture
    settings: sizing_llm.Settings
    spot: bool
    weights: str
    copy_seconds: int
    load_seconds: int
    init_seconds: int
    node_seconds: int
    image_pull_seconds: int
    namespace: str = "models"
    node_cache: bool = False
    """The weights are cached once per node (hostPath on the RAID), not per pod."""
    hf_token: Optional[tuple[str, str]] = None
    """(Secret, key) of a Hugging Face token, read as HF_TOKEN by whichever container downloads hf:// weights."""
    image: str = vllm.IMAGE
    """The engine's image: it also downloads hf:// weights into the node cache (its huggingface_hub)."""

    @property
    def startup_seconds(self) -> int:
        return self.copy_seconds + self.load_seconds + self.init_seconds

    @property
    def cold_start_seconds(self) -> int:
        return self.node_seconds + self.image_pull_seconds + self.startup_seconds

    @property
    def warm_start_seconds(self) -> int:
        """A replica on a node that already holds the weights (node cache hit) and the image: load and engine start
        only. What a second replica packed on the node or a rolling update's new pod waits; the budgets and timeouts
        keep the cold figure. Without the node cache every pod copies again: the copy counts."""
        return (0 if self.node_cache else self.copy_seconds) + self.load_seconds + self.init_seconds

    @property
    def s3(self) -> bool:
        return self.weights.startswith("s3://")

    @property
    def on_nvme(self) -> bool:
        """The pods need instance-store NVMe (RAID 0): s3:// weights are copied onto it, and the node cache is on it."""
        return self.s3 or self.node_cache

    @property
    def hf_repo(self) -> tuple[str, str]:
        """An hf:// source's repository id and revision (default main)."""
        repo, _, rev = self.weights.removeprefix("hf://").partition("@")
        return repo, rev or HF_DEFAULT_REVISION

    @property
    def cache_key(self) -> str:
        """The model's entry in the node cache: namespace, model, and a digest of the weights source (an s3:// prefix,
        or an hf:// id at its revision), so another source or revision is another entry, never a stale hit."""
        source = self.weights if self.s3 else "hf://{}@{}".format(*self.hf_repo)
        return f"{self.namespace}.{self.model}.{hashlib.sha256(source.encode()).hexdigest()[:12]}"

    @property
    def weights_path(self) -> str:
        """Where the weights are on the node: the node cache's entry, the pod's emptyDir, or the engine's own
        Hugging Face cache (in the pod's /tmp)."""
        if self.node_cache:
            return f"{node_templates.WEIGHTS_CACHE_ROOT}/{self.cache_key}"
        return f"emptyDir {WEIGHTS_MOUNT}/{self.model} (per pod)" if self.s3 else "HF_HOME /tmp/huggingface (per pod)"

    @property
    def cache_size(self) -> str:
        """The weights emptyDir's size limit: the weights plus a tenth (tokenizer, configs), in whole GiB."""
        return f"{math.ceil(self.architecture.weight_bytes * 1.1 / sizing_llm.GIB)}Gi"

    def row(self) -> dict[str, Any]:
        """The plan's line for this LLM (plan.json `llms` and the summary table)."""
        o, b = self.option, self.option.budget
        g = sizing_llm.GIB
        return {"model": self.model, "instance_type": o.itype.name, "gpu": o.itype.gpu_model,
                "gpus": o.degree, "tensor_parallel": o.degree, "replicas_per_node": o.replicas_per_node,
                "weights_gib": round(b.weights / g, 2), "kv_gib": round(b.kv / g, 2),
                "overhead_gib": round(b.overhead / g, 2), "headroom_gib": round(b.headroom / g, 2),
                "kv_tokens": b.kv_tokens, "usd_per_replica_hour": round(o.usd_per_replica_hour, 4),
                "capacity": "spot" if self.spot else "on-demand", "weights_path": self.weights_path,
                "cold_start": {"node": self.node_seconds, "image_pull": self.image_pull_seconds,
                               "weights_copy": self.copy_seconds, "weights_load": self.load_seconds,
                               "engine_init": self.init_seconds, "total": self.cold_start_seconds,
                               "warm_node": self.warm_start_seconds}}


def _issue(name: str, key: str, given: str, allowed: str) -> ConfigIssue:
    return ConfigIssue(path=f"{cfg.CONFIG_KEY}.models.{name}.llm{'.' + key if key else ''}", given=given, allowed=allowed)


def stack_folder(source: Optional[str], project: Optional[Path]) -> Optional[Path]:
    """The folder of the stack file `source` (relative to `project` when not absolute)."""
    if source is None:
        return project
    p = Path(source).parent
    return p if p.is_absolute() or project is None else project / p


def architecture(name: str, spec: cfg.LlmConfig, folder: Optional[Path]) -> tuple[Optional[sizing_llm.Architecture], list[ConfigIssue]]:
    """The model's architecture from `architecture` or its config.json (validated as `architecture` is)."""
    if spec.architecture is not None:
        a = spec.architecture
    else:
        path = Path(spec.config_file or "")
        if not path.is_absolute() and folder is not None:
            path = folder / path
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            fields = sizing_llm.hf_fields(doc)
        except OSError as e:
            return None, [_issue(name, "config_file", repr(spec.config_file), f"a readable file beside the stack file "
                                 f"(the model's config.json): {e.strerror or e}")]
        except ValueError as e:
            return None, [_issue(name, "config_file", repr(spec.config_file), f"a Hugging Face config.json: {e}")]
        try:
            a = LlmArchitecture.model_validate(fields)
        except ValidationError as e:
            return None, [_issue(name, "config_file", f"{spec.config_file!r}, whose {'/'.join(map(str, x['loc'])) or 'shape'} "
                                 f"is {cfg._fmt_value(x.get('input'))}", cfg._allowed(x, tuple(x['loc'])))
                          for x in e.errors(include_url=False)]
    hd = a.head_dim or a.hidden_size // a.attention_heads
    return sizing_llm.Architecture(
        layers=a.layers, attention_heads=a.attention_heads, kv_heads=a.kv_heads or a.attention_heads,
        hidden_size=a.hidden_size, vocab_size=a.vocab_size, head_dim=hd, intermediate_size=a.intermediate_size,
        max_position_embeddings=a.max_position_embeddings, tie_word_embeddings=a.tie_word_embeddings,
        parameters=a.parameters, dtype=a.dtype), []


def _types_and_spot(platform: Platform, m: cfg.ModelConfig,
                   cat: Mapping[str, pricing.InstanceType]) -> tuple[list[pricing.InstanceType], bool]:
    """The types the model's node group may use, and whether it is spot."""
    c = platform.config
    if c.node_groups and m.node_group in c.node_groups:
        g = c.node_groups[m.node_group]
        if g.instance_types:
            return [cat[t] for t in g.instance_types if t in cat], g.spot
        sel = selection_of(g, cat)
        return [t for t in cat.values() if sel.allows(t)], g.spot
    s = design_mod.settings_of(platform)
    return list(design_mod.allowed_catalog(s, c.environment, cat).values()), s.spot


def _s3(weights: str) -> tuple[str, str]:
    bucket, _, prefix = weights.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def weights_statements(weights: str) -> list[cfg.AwsStatement]:
    """Read-only access to the weights' prefix: GetObject under it, ListBucket on its bucket."""
    bucket, prefix = _s3(weights)
    objects = f"arn:aws:s3:::{bucket}/{prefix + '/' if prefix else ''}*"
    return [cfg.AwsStatement(actions=["s3:GetObject"], resources=[objects]),
            cfg.AwsStatement(actions=["s3:ListBucket"], resources=[f"arn:aws:s3:::{bucket}"])]


def startup_probe(health: cfg.HttpGet, budget: int) -> cfg.Probe:
    """A start-up probe that keeps failing up to `budget` seconds: every STARTUP_PERIOD_SECONDS, or longer when the
    schema's 100 failures would not cover it."""
    period = max(STARTUP_PERIOD_SECONDS, math.ceil(budget / 100))
    return cfg.Probe(http_get=health, period_seconds=period, failure_threshold=max(1, math.ceil(budget / period)))


def _expanded(name: str, m: cfg.ModelConfig, plan: LlmPlan) -> cfg.ModelConfig:
    """The model's config with everything the engine decides filled in."""
    spec, o = m.llm, plan.option
    assert spec is not None
    # s3:// weights (and any with the node cache) are on the node's disk first; otherwise a Hugging Face id is
    # vLLM's to download, at its revision
    local = plan.on_nvme
    model_path = f"{WEIGHTS_MOUNT}/{name}" if local else plan.hf_repo[0]
    #: the longest request by default (the response timeout), within the grace period's 3600 s
    shutdown = duration_seconds(spec.shutdown_timeout) if spec.shutdown_timeout is not None else min(
        duration_seconds(m.response_timeout), MAX_SHUTDOWN_SECONDS)
    engine = vllm.EngineArgs(
        model=model_path, served_model_name=spec.served_model_name or name, tensor_parallel_size=o.degree,
        max_model_len=spec.max_model_len, max_num_seqs=spec.max_num_seqs,
        gpu_memory_utilization=spec.gpu_memory_utilization, port=m.port, kv_cache_dtype=spec.kv_cache_dtype,
        shutdown_timeout_seconds=shutdown, revision=None if local or "@" not in spec.weights else plan.hf_repo[1])
    health = cfg.HttpGet(path=vllm.HEALTH_PATH)
    budget = plan.startup_seconds
    compute = m.compute.model_copy(update={
        "gpu": o.degree, "gpu_models": [o.itype.gpu_model], "min_gpu_memory_gib": o.itype.gpu_memory_gib,
        "shm": m.compute.shm or vllm.shm_size(o.degree)})
    a = m.autoscaling
    auto = a if a.signal != "in_flight" else a.model_copy(update={
        "signal": "llm", "target_in_flight": a.target_in_flight or spec.max_num_seqs})
    env = {"HOME": "/tmp", "VLLM_CACHE_ROOT": "/tmp/vllm", "HF_HOME": "/tmp/huggingface",
           vllm.ENGINE_READY_ENV: str(max(vllm.ENGINE_READY_DEFAULT_SECONDS, budget)), **m.env}
    aws = m.aws
    if spec.weights.startswith("s3://"):
        aws = (aws or cfg.AwsAccess()).model_copy(update={
            "statements": [*(aws.statements if aws else []), *weights_statements(spec.weights)]})
    grace = m.pre_stop.sleep_seconds + shutdown + timeouts.EXIT_MARGIN_SECONDS
    return m.model_copy(update={
        "command": list(vllm.COMMAND), "args": vllm.args(engine), "env": env, "compute": compute,
        "readiness_probe": m.readiness_probe or cfg.Probe(http_get=health, period_seconds=5, failure_threshold=2),
        "liveness_probe": m.liveness_probe or cfg.Probe(http_get=health, period_seconds=10, failure_threshold=6,
                                                        timeout_seconds=5),
        "startup_probe": startup_probe(health, budget),
        "termination_grace_period_seconds": max(m.termination_grace_period_seconds, min(grace, 3600)),
        "max_concurrency": m.max_concurrency if m.max_concurrency > 1 else spec.max_num_seqs,
        "autoscaling": auto, "aws": aws,
        "cold_start": m.cold_start if m.cold_start is not None else plan.cold_start_seconds,
    })


def expand(platform: Platform, project: Optional[Path] = None) -> tuple[Platform, dict[str, LlmPlan], list[ConfigIssue]]:
    """The platform with every LLM model's config filled in, the LLM plans, and the problems found."""
    c = platform.config
    llms = {n: m for n, m in c.models.items() if m.llm is not None}
    if not llms:
        return platform, {}, []
    cat = pricing.catalog()
    prices, _ = prices_mod.book_for(platform, project)  # its own issues are plan_capacity's to report
    folder = stack_folder(platform.source, project)
    issues: list[ConfigIssue] = []
    plans: dict[str, LlmPlan] = {}
    models = dict(c.models)
    for name, m in llms.items():
        spec = m.llm
        assert spec is not None
        a, bad = architecture(name, spec, folder)
        issues += bad
        if a is None:
            continue
        if a.max_position_embeddings and spec.max_model_len > a.max_position_embeddings:
            issues.append(_issue(name, "max_model_len", repr(spec.max_model_len),
                                 f"at most the model's max_position_embeddings ({a.max_position_embeddings:,})"))
            continue
        s = sizing_llm.Settings(max_model_len=spec.max_model_len, max_num_seqs=spec.max_num_seqs,
                                gpu_memory_utilization=spec.gpu_memory_utilization,
                                kv_cache_dtype=spec.kv_cache_dtype, overhead_gib=spec.engine_overhead_gib)
        types, spot = _types_and_spot(platform, m, cat)
        degrees = (spec.tensor_parallel_size,) if spec.tensor_parallel_size else sizing_llm.DEGREES
        s3 = spec.weights.startswith("s3://")
        if s3 or spec.node_cache:  # the weights go on the instance stores (LlmPlan.on_nvme)
            types = [t for t in types if t.local_nvme_gb]
        try:
            o = sizing_llm.choose(a, s, types, prices, spot=spot, pod=pod_requests(m), degrees=degrees,
                                  gpu_models=m.compute.gpu_models or None)
        except sizing_llm.LlmSizingError as e:
            issues.append(_issue(name, "", f"{spec.max_num_seqs} x {spec.max_model_len:,} tokens of "
                                 f"{a.parameter_count / 1e9:,.1f}B parameters ({a.dtype})", str(e)))
            continue
        w = a.weight_bytes
        plan = LlmPlan(model=name, option=o, architecture=a, settings=s, spot=spot, weights=spec.weights,
                       copy_seconds=math.ceil(w / (S3_COPY_BYTES_PER_SECOND if s3 else HF_DOWNLOAD_BYTES_PER_SECOND)),
                       load_seconds=math.ceil(w / LOAD_BYTES_PER_SECOND), init_seconds=ENGINE_INIT_SECONDS,
                       node_seconds=timeouts.NODE_READY_SECONDS["gpu"],
                       image_pull_seconds=timeouts.IMAGE_PULL_SECONDS["gpu"], namespace=m.namespace,
                       node_cache=spec.node_cache, image=m.image,
                       hf_token=(spec.hf_token_secret, spec.hf_token_secret_key) if spec.hf_token_secret else None)
        plans[name] = plan
        models[name] = _expanded(name, m, plan)
    out = platform.model_copy(update={"config": c.model_copy(update={"models": models})})
    return out, plans, issues


#: The node cache's fill, for s3:// weights (sh in the AWS CLI image): $1 the cache folder, $2 the entry, $3 the
#: source. An entry exists only complete: the copy goes to a folder named after the pod, then one rename(2) puts it
#: in place; a pod that loses the race (another one's rename came first) drops its copy. A hit copies nothing.
S3_FILL_SCRIPT = (
    'set -eu; final="$1/$2"; tmp="$1/.$2.tmp-$HOSTNAME"; '
    'if [ -d "$final" ]; then echo "node cache hit: $final"; exit 0; fi; '
    'rm -rf "$tmp"; aws s3 sync --only-show-errors "$3" "$tmp"; '
    'if ! mv -T "$tmp" "$final" 2>/dev/null; then [ -d "$final" ]; rm -rf "$tmp"; fi; echo "node cache filled: $final"')
#: The same for hf:// weights (Python in the engine image, with its huggingface_hub): argv the cache folder, the
#: entry, the repository id and its revision. HF_TOKEN, when given, is read by huggingface_hub itself.
HF_FILL_SCRIPT = """\
import os, shutil, sys
from huggingface_hub import snapshot_download
root, key, repo, rev = sys.argv[1:5]
final = os.path.join(root, key)
if os.path.isdir(final):
    print("node cache hit: " + final)
    sys.exit(0)
tmp = os.path.join(root, "." + key + ".tmp-" + os.environ["HOSTNAME"])
shutil.rmtree(tmp, ignore_errors=True)
snapshot_download(repo, revision=rev, local_dir=tmp)
shutil.rmtree(os.path.join(tmp, ".cache"), ignore_errors=True)
try:
    os.rename(tmp, final)
except OSError:
    if not os.path.isdir(final):
        raise
    shutil.rmtree(tmp)
print("node cache filled: " + final)
"""


def model_api_extras(plan: LlmPlan) -> dict[str, Any]:
    """ModelAPI args beyond the model's config: where the weights are cached on the node (a per-pod emptyDir, or the
    node-wide cache with `node_cache`), the init container that fills it (from S3 with the model's own role, or
    from Hugging Face), and the Hugging Face token Secret for the container that downloads."""
    token = ({HF_TOKEN_ENV: {"secret": plan.hf_token[0], "key": plan.hf_token[1]}} if plan.hf_token else None)
    if plan.node_cache:
        root = node_templates.WEIGHTS_CACHE_ROOT
        if plan.s3:
            init: dict[str, Any] = {"name": "weights", "image": COPY_IMAGE,
                                    "command": ["/bin/sh", "-c", S3_FILL_SCRIPT, "fill", NODE_CACHE_MOUNT,
                                                plan.cache_key, plan.weights]}
        else:
            init = {"name": "weights", "image": plan.image,
                    "command": ["python3", "-c", HF_FILL_SCRIPT, NODE_CACHE_MOUNT, plan.cache_key, *plan.hf_repo]}
        init.update(env={"HOME": "/tmp", "HF_HOME": "/tmp/huggingface"}, compute={"cpu": "1", "memory": "1Gi"})
        if token:
            init["secret_env"] = token
        return {"node_cache": {"host_path": root, "sub_path": plan.cache_key, "mount_path": f"{WEIGHTS_MOUNT}/{plan.model}",
                               "init_mount_path": NODE_CACHE_MOUNT},
                "init_containers": [init]}
    if not plan.s3:
        return {"secret_env": token} if token else {}
    return {
        "cache_volume": {"mount_path": WEIGHTS_MOUNT, "size_limit": plan.cache_size},
        "init_containers": [{
            "name": "weights", "image": COPY_IMAGE,
            "command": ["aws", "s3", "sync", "--only-show-errors", plan.weights, f"{WEIGHTS_MOUNT}/{plan.model}"],
            "env": {"HOME": "/tmp"},
            "compute": {"cpu": "1", "memory": "1Gi"},
        }],
    }


def table(plans: Mapping[str, LlmPlan]) -> list[str]:
    """The plan summary's LLM lines: GPU x count, degree, memory per GPU, KV tokens, $/h per replica, cold start."""
    if not plans:
        return []
    head = (f"{'llm':<16} {'gpus':<14} {'tp':>2} {'weights/kv/headroom GiB per GPU':>32} {'kv tokens':>10} "
            f"{'$/h/replica':>12} {'cold start':>10}")
    out = [head]
    for p in plans.values():
        r = p.row()
        mem = f"{r['weights_gib']:.1f} / {r['kv_gib']:.1f} / {r['headroom_gib']:.1f}"
        gpus = f"{r['gpus']} x {r['gpu']}"
        out.append(f"{p.model[:16]:<16} {gpus:<14} {r['tensor_parallel']:>2} {mem:>32} {r['kv_tokens']:>10,} "
                   f"{r['usd_per_replica_hour']:>12.4f} {p.cold_start_seconds:>9}s")
        out.append(f"{'':<16} on {r['instance_type']} ({r['capacity']}, {r['replicas_per_node']} per node)")
        out.append(f"{'':<16} cold start: node {p.node_seconds}s + image {p.image_pull_seconds}s + weights copy "
                   f"{p.copy_seconds}s + load {p.load_seconds}s + engine {p.init_seconds}s")
        warm = "warm node (cache hit)" if p.node_cache else "warm node (copied again: no node cache)"
        out.append(f"{'':<16} {warm}: {p.warm_start_seconds}s")
        out.append(f"{'':<16} weights: {p.weights_path}"[:120])  # plan.json `llms.<model>.weights_path` in full
    return out
