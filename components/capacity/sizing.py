"""Per-replica requests, Kubernetes quantities, and which instance types a replica fits on.

Packing uses *allocatable* capacity from the pricing data (after kubelet/system reserve and eviction
threshold, per Karpenter's reference), minus a per-node DaemonSet reserve (:data:`DEFAULT_NODE_RESERVE`),
never nominal vCPU/memory: g5.xlarge allocates 3920m CPU, so a 4-CPU replica does not fit on it.

Pure module: standard library only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping, Sequence

from modelstack.capacity.pricing import InstanceType, catalog as _default_catalog

__all__ = [
    "Requests",
    "NodeReserve",
    "NodeCapacity",
    "DEFAULT_NODE_RESERVE",
    "GPU_NODE_RESERVE",
    "NEURON_NODE_RESERVE",
    "parse_cpu",
    "parse_memory",
    "reserve_for",
    "node_capacity",
    "replica_total",
    "replicas_per_node",
    "fits_count",
    "fit_report",
    "fitting_types",
]

ARCHES = ("amd64", "arm64")

# --------------------------------------------------------------------------------------------------
# Kubernetes quantities
# --------------------------------------------------------------------------------------------------

_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
_CPU_RE = re.compile(rf"^({_NUMBER})(m?)$")
_MEM_RE = re.compile(rf"^({_NUMBER})([A-Za-z]*)$")
_MEM_SUFFIX_BYTES: Mapping[str, int] = {
    "": 1,
    "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5, "Ei": 1024**6,
    "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4, "P": 1000**5, "E": 1000**6,
}
_MIB = 1024**2


def parse_cpu(value: str | int | float) -> int:
    """A Kubernetes CPU quantity as whole millicores: ``"500m"`` → 500, ``"2"`` / ``2`` → 2000, ``"0.25"`` → 250.

    Strict: no negative values, no exponents, nothing finer than 1m (``"1.5m"``, ``"0.0001"`` are rejected,
    where Kubernetes would silently round up).
    """
    if isinstance(value, bool):
        raise ValueError(f"CPU quantity must be a string like '500m' or '2', or a number of cores; got {value!r}")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"CPU quantity {value!r} is not a finite number")
        text = repr(value) if isinstance(value, float) else str(value)
        if "e" in text.lower():
            raise ValueError(f"CPU quantity {value!r}: write it without an exponent, e.g. '500m' or '2'")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"CPU quantity must be a string or a number, got {type(value).__name__} {value!r}")
    if not text:
        raise ValueError("CPU quantity is empty; write e.g. '500m' or '2'")
    if text.startswith("-"):
        raise ValueError(f"CPU quantity {value!r} is negative")
    match = _CPU_RE.match(text)
    if not match:
        raise ValueError(
            f"CPU quantity {value!r} is not valid: use millicores ('500m') or cores ('2', '0.5')"
        )
    number, milli = match.groups()
    amount = Decimal(number) if milli else Decimal(number) * 1000
    if amount != amount.to_integral_value():
        raise ValueError(f"CPU quantity {value!r} is finer than 1m (1/1000 of a core)")
    return int(amount)


def parse_memory(value: str | int) -> int:
    """A Kubernetes memory quantity in MiB, rounded **up** to a whole MiB.

    ``"2Gi"`` → 2048, ``"512Mi"`` → 512, ``"1G"`` (10^9 bytes) → 954. A bare integer (``int`` or ``"1048576"``)
    is bytes, as in Kubernetes. Lower-case ``m`` (millibytes in Kubernetes) and units such as ``GB``/``gi``
    are rejected with a hint.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(
            f"memory quantity must be a string with a unit like '512Mi' or '2Gi' (or an integer number of "
            f"bytes); got {value!r}"
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"memory quantity must be a string or an integer, got {type(value).__name__} {value!r}")
    if not text:
        raise ValueError("memory quantity is empty; write e.g. '512Mi' or '2Gi'")
    if text.startswith("-"):
        raise ValueError(f"memory quantity {value!r} is negative")
    match = _MEM_RE.match(text)
    if not match:
        raise ValueError(f"memory quantity {value!r} is not valid: write a number and a unit, e.g. '512Mi' or '2Gi'")
    number, suffix = match.groups()
    if suffix not in _MEM_SUFFIX_BYTES:
        hint = ""
        if suffix == "m":
            hint = " ('m' means thousandths of a byte in Kubernetes; did you mean 'Mi'?)"
        elif suffix.lower() in {"gb", "gib", "gi", "g"}:
            hint = " (did you mean 'Gi'?)"
        elif suffix.lower() in {"mb", "mib", "mi"}:
            hint = " (did you mean 'Mi'?)"
        raise ValueError(
            f"memory quantity {value!r} has unknown unit {suffix!r}{hint}; allowed units: "
            "Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), k, M, G, T, P, E (powers of 1000), or none for bytes"
        )
    try:
        total_bytes = Decimal(number) * _MEM_SUFFIX_BYTES[suffix]
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only plain decimals
        raise ValueError(f"memory quantity {value!r} is not a number") from exc
    if total_bytes != total_bytes.to_integral_value():
        raise ValueError(f"memory quantity {value!r} is not a whole number of bytes")
    return int(-(-int(total_bytes) // _MIB))


# --------------------------------------------------------------------------------------------------
# Requests and node reserves
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Requests:
    """What one container (or one replica) asks of a node.

    ``gpu`` and ``inferentia`` are mutually exclusive. ``min_gpu_memory_gib`` is per GPU and needs
    ``gpu > 0``. ``gpu_models`` restricts the GPU model (Karpenter names: t4, a10g, l4, l40s, v100, a100,
    h100, h200); None allows any. ``arch`` (amd64/arm64) None allows either.
    """

    cpu_millicores: int
    memory_mib: int
    gpu: int = 0
    min_gpu_memory_gib: float | None = None
    gpu_models: tuple[str, ...] | None = None
    inferentia: int = 0
    arch: str | None = None

    def __post_init__(self) -> None:
        for name in ("cpu_millicores", "memory_mib", "gpu", "inferentia"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"Requests.{name} must be a non-negative integer, got {v!r}")
        if self.gpu and self.inferentia:
            raise ValueError("Requests: gpu and inferentia are mutually exclusive")
        if self.min_gpu_memory_gib is not None:
            if self.gpu == 0:
                raise ValueError("Requests.min_gpu_memory_gib needs gpu > 0")
            if self.min_gpu_memory_gib <= 0:
                raise ValueError(f"Requests.min_gpu_memory_gib must be positive, got {self.min_gpu_memory_gib!r}")
        if self.gpu_models is not None:
            given: object = self.gpu_models  # a str would pass as a tuple of letters: checked, whatever the annotation
            if isinstance(given, str) or not self.gpu_models:
                raise ValueError("Requests.gpu_models must be a non-empty tuple of model names, or None")
            object.__setattr__(self, "gpu_models", tuple(m.lower() for m in self.gpu_models))
        if self.arch is not None and self.arch not in ARCHES:
            raise ValueError(f"Requests.arch must be one of {ARCHES} or None, got {self.arch!r}")

    @classmethod
    def parse(cls, cpu: str | int | float, memory: str | int, **kwargs: Any) -> "Requests":
        """Build from Kubernetes quantities: ``Requests.parse("500m", "1Gi", gpu=1)``."""
        return cls(cpu_millicores=parse_cpu(cpu), memory_mib=parse_memory(memory), **kwargs)

    def plus(self, other: "Requests") -> "Requests":
        """Resources of both containers of one pod; placement constraints of both must hold."""
        arch = self.arch or other.arch
        if self.arch and other.arch and self.arch != other.arch:
            raise ValueError(f"containers of one pod ask for different arches: {self.arch} and {other.arch}")
        if self.gpu_models is None:
            models = other.gpu_models
        elif other.gpu_models is None:
            models = self.gpu_models
        else:
            models = tuple(m for m in self.gpu_models if m in other.gpu_models)
            if not models:
                raise ValueError(f"containers of one pod allow disjoint GPU models: {self.gpu_models} and {other.gpu_models}")
        mems = [m for m in (self.min_gpu_memory_gib, other.min_gpu_memory_gib) if m is not None]
        return Requests(
            cpu_millicores=self.cpu_millicores + other.cpu_millicores,
            memory_mib=self.memory_mib + other.memory_mib,
            gpu=self.gpu + other.gpu,
            min_gpu_memory_gib=max(mems) if mems else None,
            gpu_models=models,
            inferentia=self.inferentia + other.inferentia,
            arch=arch,
        )


@dataclass(frozen=True)
class NodeReserve:
    """Resources every node spends on DaemonSet pods before any replica lands on it."""

    cpu_millicores: int
    memory_mib: int
    pods: int

    def __add__(self, other: "NodeReserve") -> "NodeReserve":
        return NodeReserve(self.cpu_millicores + other.cpu_millicores, self.memory_mib + other.memory_mib,
                           self.pods + other.pods)


DEFAULT_NODE_RESERVE = NodeReserve(cpu_millicores=200, memory_mib=300, pods=4)
"""DaemonSets on every node: aws-node (VPC CNI, requests 25m), kube-proxy (100m), aws-for-fluent-bit (50m / 50Mi,
chart 0.2.0's default; cluster.logging is on in every shipped stack) and the EKS Pod Identity agent, rounded up to
200m CPU, 300 MiB and 4 pods. An estimate from the add-ons' default requests, not a measurement; pass your own
NodeReserve when you run more DaemonSets."""

GPU_NODE_RESERVE = NodeReserve(cpu_millicores=100, memory_mib=256, pods=2)
"""Added on GPU nodes: the NVIDIA device plugin and the DCGM exporter (GPU metrics)."""

NEURON_NODE_RESERVE = NodeReserve(cpu_millicores=50, memory_mib=128, pods=1)
"""Added on Inferentia nodes: the Neuron device plugin."""


def reserve_for(itype: InstanceType, base: NodeReserve | None = None) -> NodeReserve:
    """The per-node reserve on ``itype``: ``base`` (default :data:`DEFAULT_NODE_RESERVE`) plus device plugins."""
    reserve = DEFAULT_NODE_RESERVE if base is None else base
    if itype.is_gpu:
        reserve = reserve + GPU_NODE_RESERVE
    if itype.is_inferentia:
        reserve = reserve + NEURON_NODE_RESERVE
    return reserve


@dataclass(frozen=True)
class NodeCapacity:
    """What one node of a type offers to replicas, after allocatable and the per-node reserve."""

    cpu_millicores: int
    memory_mib: float
    pods: int
    gpus: int
    neuron_devices: int


def node_capacity(itype: InstanceType, reserve: NodeReserve | None = None) -> NodeCapacity | None:
    """Capacity left for replicas on one ``itype`` node; None when the data has no allocatable figures."""
    if itype.alloc_cpu_millicores is None or itype.alloc_memory_mib is None:
        return None
    r = reserve_for(itype, reserve)
    return NodeCapacity(
        cpu_millicores=itype.alloc_cpu_millicores - r.cpu_millicores,
        memory_mib=itype.alloc_memory_mib - r.memory_mib,
        pods=itype.max_pods - r.pods,
        gpus=itype.gpu_count,
        neuron_devices=itype.accelerator_count,
    )


def replica_total(req: Requests, sidecars: Sequence[Requests] = ()) -> Requests:
    """One replica's pod: the model container plus its sidecar containers (one pod, so one pod slot)."""
    total = req
    for sidecar in sidecars:
        total = total.plus(sidecar)
    return total


# --------------------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------------------

def _placement_reasons(req: Requests, itype: InstanceType) -> list[str]:
    """Reasons that do not depend on quantities: arch, accelerator kind and model, taints."""
    reasons: list[str] = []
    if itype.alloc_cpu_millicores is None or itype.alloc_memory_gib is None:
        reasons.append(f"the pricing data has no allocatable CPU/memory for {itype.name}, so it cannot be sized")
    if req.arch and itype.arch != req.arch:
        reasons.append(f"needs arch {req.arch}, {itype.name} is {itype.arch or 'of unknown arch'}")
    if req.gpu:
        if not itype.is_gpu:
            reasons.append(f"needs {req.gpu} GPU(s), {itype.name} has none")
        else:
            if req.gpu > itype.gpu_count:
                reasons.append(f"needs {req.gpu} GPUs per replica, {itype.name} has {itype.gpu_count}")
            if req.gpu_models is not None and (itype.gpu_model or "").lower() not in req.gpu_models:
                reasons.append(f"needs GPU model {' or '.join(req.gpu_models)}, {itype.name} has {itype.gpu_model}")
            if req.min_gpu_memory_gib is not None and (itype.gpu_memory_gib or 0) < req.min_gpu_memory_gib:
                reasons.append(
                    f"needs {req.min_gpu_memory_gib:g} GiB per GPU, {itype.name} GPUs have "
                    f"{itype.gpu_memory_gib or 0:g} GiB"
                )
    elif itype.is_gpu:
        reasons.append(f"{itype.name} is a GPU type (nodes tainted nvidia.com/gpu); a replica without GPUs is not placed there")
    if req.inferentia:
        if itype.accelerator_count < req.inferentia:
            reasons.append(
                f"needs {req.inferentia} Inferentia device(s) per replica, {itype.name} has {itype.accelerator_count}"
            )
    elif itype.is_inferentia:
        reasons.append(
            f"{itype.name} is an Inferentia type (nodes tainted aws.amazon.com/neuron); a replica without "
            "Inferentia is not placed there"
        )
    return reasons


def fit_report(req: Requests, itype: InstanceType, reserve: NodeReserve | None = None,
               sidecars: Sequence[Requests] = ()) -> list[str]:
    """Why one replica (``req`` plus ``sidecars``) does not fit on an empty ``itype`` node; [] when it fits."""
    total = replica_total(req, sidecars)
    reasons = _placement_reasons(total, itype)
    cap = node_capacity(itype, reserve)
    if cap is None:
        return reasons
    r = reserve_for(itype, reserve)
    if total.cpu_millicores > cap.cpu_millicores:
        reasons.append(
            f"needs {total.cpu_millicores}m CPU, {itype.name} allocates {itype.alloc_cpu_millicores}m, "
            f"{cap.cpu_millicores}m after {r.cpu_millicores}m reserved for per-node DaemonSets"
        )
    if total.memory_mib > cap.memory_mib + 1e-6:
        reasons.append(
            f"needs {total.memory_mib} MiB memory, {itype.name} allocates {itype.alloc_memory_mib:.0f} MiB, "
            f"{cap.memory_mib:.0f} MiB after {r.memory_mib} MiB reserved for per-node DaemonSets"
        )
    if cap.pods < 1:
        reasons.append(f"{itype.name} allows {itype.max_pods} pods, all taken by the {r.pods} per-node DaemonSet pods")
    return reasons


def replicas_per_node(req: Requests, itype: InstanceType, reserve: NodeReserve | None = None,
                      sidecars: Sequence[Requests] = ()) -> int:
    """How many replicas of one model fit on one empty ``itype`` node (0 when none does)."""
    total = replica_total(req, sidecars)
    if _placement_reasons(total, itype):
        return 0
    cap = node_capacity(itype, reserve)
    assert cap is not None  # _placement_reasons rejects types without allocatable data
    return fits_count(total, cap.cpu_millicores, cap.memory_mib, cap.pods, cap.gpus, cap.neuron_devices)


def fits_count(pod: Requests, cpu_millicores: float, memory_mib: float, pods: float, gpus: float,
               neuron_devices: float) -> int:
    """How many ``pod`` replicas fit in these free resources: the tightest resource the pod asks for."""
    limits = [pods]
    if pod.cpu_millicores:
        limits.append(cpu_millicores // pod.cpu_millicores)
    if pod.memory_mib:
        limits.append(math.floor(memory_mib / pod.memory_mib + 1e-9))
    if pod.gpu:
        limits.append(gpus // pod.gpu)
    if pod.inferentia:
        limits.append(neuron_devices // pod.inferentia)
    return max(0, int(min(limits)))


def fitting_types(
    req: Requests,
    catalog: Mapping[str, InstanceType] | None = None,
    allowed: Iterable[str] | Callable[[InstanceType], bool] | None = None,
    *,
    sidecars: Sequence[Requests] = (),
    reserve: NodeReserve | None = None,
) -> list[InstanceType]:
    """Instance types one replica fits on, cheapest on-demand price per replica first (unpriced last).

    ``allowed`` narrows the catalog: a collection of type names, or a predicate.
    """
    types: Iterable[InstanceType] = (catalog if catalog is not None else _default_catalog()).values()
    if allowed is not None:
        if callable(allowed):
            types = [t for t in types if allowed(t)]
        else:
            names = set(allowed)
            types = [t for t in types if t.name in names]
    scored = []
    for itype in types:
        n = replicas_per_node(req, itype, reserve, sidecars)
        if n <= 0:
            continue
        price = itype.on_demand_usd_per_hour
        scored.append(((price is None, (price or 0.0) / n, itype.name), itype))
    return [itype for _, itype in sorted(scored, key=lambda pair: pair[0])]
