"""Sizing a large language model by GPU memory: weights, KV cache and the engine's overhead, per GPU.

One replica of an LLM is one engine over `t` GPUs of one node (tensor parallel, t in {1, 2, 4, 8}, dividing the
attention and KV heads). Each GPU holds 1/t of the weights and 1/t of the KV cache, plus the engine's own
overhead, all under `gpu_memory_utilization` of the GPU's memory:

    weights / t + kv_per_token / t x max_num_seqs x max_model_len + overhead <= utilization x GPU memory

:func:`options` lists every instance type x degree that holds one replica, with its $/h per replica (the node's
price over the replicas one node holds); :func:`choose` takes the cheapest. Pure module: no config, no Pulumi.

The parameter count of a Llama-style dense decoder (gated MLP, no biases) follows from its config.json:
embeddings V x D, output head V x D (none when tied), per layer the attention projections
D x (H x hd) + 2 x D x (KV x hd) + (H x hd) x D, the MLP 3 x D x I and two norms of D, plus a final norm.
Quantized formats shrink the linear layers only: vLLM keeps embeddings, the output head and norms in 16 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from modelstack.capacity import sizing
from modelstack.capacity.pricing import InstanceType, PriceBook

GIB = 2 ** 30
DEGREES = (1, 2, 4, 8)
#: Bytes per parameter of the linear layers. int4 is AWQ/GPTQ with groups of 128: 4-bit weights, one fp16 scale and
#: one 4-bit zero point per group and output column (0.5 + 2/128 + 0.5/128).
LINEAR_BYTES = {"bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int4": 0.5 + 2 / 128 + 0.5 / 128}
#: Bytes of one KV-cache element: the activations' 16-bit type ("auto"), or fp8.
KV_BYTES = {"auto": 2, "fp8": 1}
#: CUDA compute capability per GPU model of the price table (NVIDIA's "CUDA GPUs" list, developer.nvidia.com,
#: read 2026-12). vLLM 0.33.0 refuses bfloat16 below 8.0 and runs fp8 natively from 8.9 (vllm/platforms/cuda.py
#: check_if_supports_dtype, supports_fp8); modelstack places an LLM only on GPUs of 8.0 or newer, and fp8 weights or
#: an fp8 KV cache on 8.9 or newer.
COMPUTE_CAPABILITY = {"t4": 7.5, "v100": 7.0, "nvidia tesla v100": 7.0, "a10g": 8.6, "a100": 8.0, "l4": 8.9,
                      "l40s": 8.9, "h100": 9.0, "h200": 9.0}
MIN_CAPABILITY = 8.0
FP8_CAPABILITY = 8.9


class LlmSizingError(ValueError):
    """No instance type x degree holds one replica (the message says what was needed and what came closest)."""


@dataclass(frozen=True)
class Architecture:
    """A decoder's shape (config.json names in the docstrings of config.schema.LlmArchitecture)."""

    layers: int
    attention_heads: int
    kv_heads: int
    hidden_size: int
    vocab_size: int
    head_dim: int
    intermediate_size: Optional[int] = None
    max_position_embeddings: Optional[int] = None
    tie_word_embeddings: bool = False
    parameters: Optional[int] = None
    dtype: str = "bfloat16"

    @property
    def sixteen_bit_parameters(self) -> int:
        """Embeddings, output head and norms: never quantized."""
        head = 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size
        norms = (2 * self.layers + 1) * self.hidden_size
        return self.vocab_size * self.hidden_size + head + norms

    @property
    def parameter_count(self) -> int:
        """`parameters` when given, else counted from the shape."""
        if self.parameters is not None:
            return self.parameters
        d, hd = self.hidden_size, self.head_dim
        attn = d * self.attention_heads * hd * 2 + 2 * d * self.kv_heads * hd
        mlp = 3 * d * (self.intermediate_size or 0)
        return self.layers * (attn + mlp) + self.sixteen_bit_parameters

    @property
    def weight_bytes(self) -> int:
        """Bytes of the weights as the engine holds them on the GPUs."""
        sixteen = min(self.sixteen_bit_parameters, self.parameter_count)
        linear = self.parameter_count - sixteen
        return int(math.ceil(linear * LINEAR_BYTES[self.dtype] + sixteen * 2))

    def kv_bytes_per_token(self, kv_cache_dtype: str = "auto") -> int:
        """K and V of every layer for one token: 2 x layers x kv_heads x head_dim x element size."""
        return 2 * self.layers * self.kv_heads * self.head_dim * KV_BYTES[kv_cache_dtype]

    def gpu_problem(self, gpu_model: str, kv_cache_dtype: str = "auto") -> Optional[str]:
        """Why the engine cannot run this model on `gpu_model` (None when it can)."""
        cc = COMPUTE_CAPABILITY.get(gpu_model.lower(), 0.0)
        need = FP8_CAPABILITY if "fp8" in (self.dtype, kv_cache_dtype) else MIN_CAPABILITY
        if cc < need:
            return f"{gpu_model} (compute capability {cc:g}) is below {need:g}"
        return None

    def degree_problem(self, degree: int) -> Optional[str]:
        """Why `degree` GPUs cannot split this model's heads (None when they can)."""
        if self.attention_heads % degree or self.kv_heads % degree:
            return (f"tensor parallel {degree} does not divide {self.attention_heads} attention heads and "
                    f"{self.kv_heads} KV heads")
        return None


#: config.json keys read, and the Architecture field each becomes.
HF_KEYS = {"num_hidden_layers": "layers", "num_attention_heads": "attention_heads",
           "num_key_value_heads": "kv_heads", "hidden_size": "hidden_size", "vocab_size": "vocab_size",
           "head_dim": "head_dim", "intermediate_size": "intermediate_size",
           "max_position_embeddings": "max_position_embeddings", "tie_word_embeddings": "tie_word_embeddings"}
#: quantization_config.quant_method values and the weight format they mean.
HF_QUANT = {"fp8": "fp8", "fbgemm_fp8": "fp8", "awq": "int4", "gptq": "int4"}


def hf_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The architecture fields a Hugging Face config.json states (config.schema.LlmArchitecture validates them).
    Multimodal configs nest the decoder's keys under `text_config`; those are read. Raises ValueError when the
    document is not a mapping or names a quantization method we do not size."""
    if not isinstance(doc, Mapping):
        raise ValueError("a JSON object (a Hugging Face config.json)")
    text = doc.get("text_config")
    src = {**doc, **text} if isinstance(text, Mapping) else doc
    out = {f: src[k] for k, f in HF_KEYS.items() if src.get(k) is not None}
    q = src.get("quantization_config")
    if isinstance(q, Mapping):
        method = str(q.get("quant_method", "")).lower()
        bits = q.get("bits", q.get("w_bit"))
        if method in ("awq", "gptq") and bits not in (None, 4):
            raise ValueError(f"quantization_config {method} with {bits} bits: 4-bit AWQ/GPTQ, fp8, or 16-bit weights")
        if method not in HF_QUANT:
            raise ValueError(f"quantization_config.quant_method {method!r}: one of {', '.join(sorted(HF_QUANT))}, or "
                             "none (16-bit weights)")
        out["dtype"] = HF_QUANT[method]
    else:
        dt = src.get("torch_dtype", src.get("dtype"))
        if dt in ("bfloat16", "float16"):
            out["dtype"] = dt
        elif dt is not None:
            raise ValueError(f"torch_dtype {dt!r}: bfloat16 or float16 (or a quantization_config)")
    return out


@dataclass(frozen=True)
class Settings:
    """What one replica must hold, and the engine's memory rules."""

    max_model_len: int
    max_num_seqs: int
    gpu_memory_utilization: float = 0.9
    kv_cache_dtype: str = "auto"
    overhead_gib: float = 2.0

    @property
    def tokens(self) -> int:
        return self.max_model_len * self.max_num_seqs


@dataclass(frozen=True)
class Budget:
    """One GPU's memory in one replica, in bytes."""

    usable: float
    weights: float
    kv: float
    overhead: float
    kv_tokens: int
    """Tokens the engine's KV cache holds with all the memory left after weights and overhead."""

    @property
    def headroom(self) -> float:
        return self.usable - self.weights - self.kv - self.overhead

    @property
    def fits(self) -> bool:
        return self.headroom >= 0


def budget(a: Architecture, s: Settings, gpu_memory_gib: float, degree: int) -> Budget:
    """Per-GPU memory of one replica at tensor parallel `degree` on GPUs of `gpu_memory_gib`."""
    usable = gpu_memory_gib * GIB * s.gpu_memory_utilization
    weights = a.weight_bytes / degree
    per_token = a.kv_bytes_per_token(s.kv_cache_dtype) / degree
    overhead = s.overhead_gib * GIB
    free = usable - weights - overhead
    return Budget(usable=usable, weights=weights, kv=per_token * s.tokens, overhead=overhead,
                  kv_tokens=max(0, int(free // per_token)))


@dataclass(frozen=True)
class Option:
    """One replica on `itype` at tensor parallel `degree`."""

    itype: InstanceType
    degree: int
    replicas_per_node: int
    node_usd_per_hour: float
    budget: Budget

    @property
    def usd_per_replica_hour(self) -> float:
        return self.node_usd_per_hour / self.replicas_per_node

    @property
    def key(self) -> tuple[float, int, str]:
        """Cheapest first; then fewer GPUs, then the name (a stable order)."""
        return (round(self.usd_per_replica_hour, 6), self.degree, self.itype.name)


def replica_requests(pod: sizing.Requests, degree: int, gpu_model: str) -> sizing.Requests:
    """The pod of one replica at `degree` GPUs of `gpu_model` (CPU and memory as `pod` asks)."""
    return sizing.Requests(cpu_millicores=pod.cpu_millicores, memory_mib=pod.memory_mib, gpu=degree,
                           gpu_models=(gpu_model,), arch=pod.arch)


def options(a: Architecture, s: Settings, types: Iterable[InstanceType], prices: PriceBook, *, spot: bool,
            pod: sizing.Requests, degrees: Iterable[int] = DEGREES,
            gpu_models: Optional[Iterable[str]] = None) -> list[Option]:
    """Every priced GPU type x degree that holds one replica, cheapest first. `spot`: price at the expected spot
    price (types without one are left out); `pod`: the replica's CPU and memory (proxy included)."""
    allowed = {m.lower() for m in gpu_models} if gpu_models else None
    out = []
    for t in types:
        if not t.is_gpu or not t.gpu_memory_gib or not prices.offers(t):
            continue
        if allowed is not None and (t.gpu_model or "").lower() not in allowed:
            continue
        if a.gpu_problem(t.gpu_model or "", s.kv_cache_dtype):
            continue
        price = prices.spot(t) if spot else prices.on_demand(t)
        if price is None:
            continue
        for d in degrees:
            if d > t.gpu_count or a.degree_problem(d):
                continue
            b = budget(a, s, t.gpu_memory_gib, d)
            if not b.fits:
                continue
            n = sizing.replicas_per_node(replica_requests(pod, d, t.gpu_model or ""), t)
            if n > 0:
                out.append(Option(t, d, n, price, b))
    return sorted(out, key=lambda o: o.key)


def choose(a: Architecture, s: Settings, types: Iterable[InstanceType], prices: PriceBook, *, spot: bool,
           pod: sizing.Requests, degrees: Iterable[int] = DEGREES,
           gpu_models: Optional[Iterable[str]] = None) -> Option:
    """The cheapest option; LlmSizingError saying what one replica needs when nothing holds it on one node."""
    types = list(types)
    degrees = tuple(degrees)
    found = options(a, s, types, prices, spot=spot, pod=pod, degrees=degrees, gpu_models=gpu_models)
    if found:
        return found[0]
    priced = [t for t in types if prices.offers(t) and (prices.spot(t) if spot else prices.on_demand(t)) is not None]
    raise LlmSizingError(refusal(a, s, priced, degrees, gpu_models))


def refusal(a: Architecture, s: Settings, types: Iterable[InstanceType], degrees: Iterable[int],
            gpu_models: Optional[Iterable[str]] = None) -> str:
    """Why nothing fits `types` (the priced ones): the memory one replica needs, and how short the largest node
    falls at its best degree."""
    need = a.weight_bytes + a.kv_bytes_per_token(s.kv_cache_dtype) * s.tokens
    allowed = {m.lower() for m in gpu_models} if gpu_models else None
    gpus = [t for t in types if t.is_gpu and t.gpu_memory_gib and not a.gpu_problem(t.gpu_model or "", s.kv_cache_dtype)
            and (allowed is None or (t.gpu_model or "").lower() in allowed)]
    ok = [d for d in degrees if not a.degree_problem(d)]
    text = (f"one replica needs {need / GIB:,.1f} GiB ({a.weight_bytes / GIB:,.1f} GiB weights + "
            f"{(need - a.weight_bytes) / GIB:,.1f} GiB KV cache for {s.max_num_seqs} x {s.max_model_len:,} tokens) "
            f"plus {s.overhead_gib:g} GiB per GPU, under gpu_memory_utilization {s.gpu_memory_utilization:g}")
    if not ok:
        return text + f"; no tensor-parallel degree in {', '.join(map(str, degrees))} divides its heads"
    best = max(gpus, key=lambda t: t.gpu_count * (t.gpu_memory_gib or 0), default=None)
    if best is not None:
        d = max([x for x in ok if x <= best.gpu_count], default=None)
        if d is not None:
            b = budget(a, s, best.gpu_memory_gib or 0, d)
            text += (f"; the largest node allowed, {best.name} ({best.gpu_count} x {best.gpu_model} "
                     f"{best.gpu_memory_gib:g} GiB), at tensor parallel {d} is {-b.headroom / GIB:,.1f} GiB short per GPU")
    return (text + ": nothing fits one node. Lower max_model_len or max_num_seqs, use kv_cache_dtype fp8 or "
            "quantized weights (fp8, int4), or allow more GPU models")
