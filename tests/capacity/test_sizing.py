"""Sizing: strict Kubernetes quantities and replica fit on allocatable capacity."""

from __future__ import annotations

import pytest

from modelstack.capacity.pricing import catalog
from modelstack.capacity.sizing import (
    DEFAULT_NODE_RESERVE,
    NodeReserve,
    Requests,
    fit_report,
    fitting_types,
    parse_cpu,
    parse_memory,
    replicas_per_node,
)

CAT = catalog()


@pytest.mark.parametrize("given, millicores", [
    ("500m", 500), ("2", 2000), (2, 2000), ("0.5", 500), (".25", 250), (0.25, 250), ("1.5", 1500),
    ("0", 0), (" 100m ", 100), ("3920m", 3920),
])
def test_parse_cpu_good(given, millicores):
    assert parse_cpu(given) == millicores


@pytest.mark.parametrize("given, message", [
    ("1.5m", "finer than 1m"), ("0.0001", "finer than 1m"), ("-1", "negative"), ("", "empty"),
    ("abc", "not valid"), ("1e3", "not valid"), ("2 cores", "not valid"), (True, "must be a string"),
    (1e-05, "without an exponent"), (float("nan"), "not a finite number"), (None, "must be a string or a number"),
    ("500M", "not valid"),
])
def test_parse_cpu_bad(given, message):
    with pytest.raises(ValueError, match=message):
        parse_cpu(given)


@pytest.mark.parametrize("given, mib", [
    ("2Gi", 2048), ("512Mi", 512), ("1G", 954), ("1M", 1), ("1Ki", 1), ("1048576", 1), (1048576, 1),
    ("1.5Gi", 1536), ("1Ti", 1024 * 1024), ("0", 0), ("128974848", 123),
])
def test_parse_memory_good(given, mib):
    assert parse_memory(given) == mib


@pytest.mark.parametrize("given, message", [
    ("512m", "did you mean 'Mi'"), ("1GB", "did you mean 'Gi'"), ("2gi", "did you mean 'Gi'"),
    ("1mb", "did you mean 'Mi'"), ("-1Gi", "negative"), ("", "empty"), ("Gi", "not valid"),
    (1.5, "must be a string with a unit"), ("1.5", "not a whole number of bytes"), ("1X", "unknown unit 'X'"),
    (True, "must be a string with a unit"),
])
def test_parse_memory_bad(given, message):
    with pytest.raises(ValueError, match=message):
        parse_memory(given)


def test_requests_validation():
    with pytest.raises(ValueError, match="mutually exclusive"):
        Requests(1000, 1024, gpu=1, inferentia=1)
    with pytest.raises(ValueError, match="needs gpu > 0"):
        Requests(1000, 1024, min_gpu_memory_gib=20)
    with pytest.raises(ValueError, match="non-negative integer"):
        Requests(-1, 1024)
    with pytest.raises(ValueError, match="arch"):
        Requests(1000, 1024, arch="x86")


def test_four_cpu_replica_does_not_fit_g5_xlarge_allocatable():
    req = Requests.parse("4", "8Gi", gpu=1)
    g = CAT["g5.xlarge"]
    assert replicas_per_node(req, g) == 0
    # g5.xlarge allocates 3920m; the reserve is 200m base + 100m for the GPU add-ons = 300m.
    assert fit_report(req, g) == ["needs 4000m CPU, g5.xlarge allocates 3920m, 3620m after 300m reserved for per-node DaemonSets"]
    assert replicas_per_node(req, CAT["g5.2xlarge"]) == 1


def test_replicas_per_node_takes_the_tightest_dimension():
    # m6i.xlarge: 3920m, 13.83 GiB = 14161.92 MiB, 58 pods; minus 200m, 300 MiB, 4 pods.
    m = CAT["m6i.xlarge"]
    assert replicas_per_node(Requests(500, 512), m) == (3920 - 200) // 500  # 7, CPU-bound
    assert replicas_per_node(Requests(100, 4096), m) == int((13.83 * 1024 - 300) // 4096)  # 3, memory-bound
    assert replicas_per_node(Requests(10, 10), m) == 58 - 4  # pod-bound


def test_max_pods_limits_small_replicas():
    # t3.medium allows 17 pods: 13 after the 4 DaemonSet pods, though CPU would allow 35.
    assert replicas_per_node(Requests(50, 64), CAT["t3.medium"]) == 17 - 4


def test_gpu_count_model_and_memory():
    two = Requests.parse("4", "16Gi", gpu=2)
    assert replicas_per_node(two, CAT["g5.12xlarge"]) == 2
    assert "needs 2 GPUs per replica, g5.2xlarge has 1" in fit_report(two, CAT["g5.2xlarge"])
    big = Requests.parse("2", "8Gi", gpu=1, min_gpu_memory_gib=40)
    assert replicas_per_node(big, CAT["g5.2xlarge"]) == 0
    assert "needs 40 GiB per GPU, g5.2xlarge GPUs have 22.352 GiB" in fit_report(big, CAT["g5.2xlarge"])
    assert replicas_per_node(big, CAT["g6e.xlarge"]) == 1
    t4 = Requests.parse("2", "8Gi", gpu=1, gpu_models=("T4",))
    assert replicas_per_node(t4, CAT["g5.xlarge"]) == 0 and replicas_per_node(t4, CAT["g4dn.xlarge"]) == 1
    assert "needs 1 GPU(s), m6i.xlarge has none" in fit_report(Requests(100, 100, gpu=1), CAT["m6i.xlarge"])


def test_cpu_replica_is_not_placed_on_tainted_accelerator_nodes():
    req = Requests(500, 512)
    assert replicas_per_node(req, CAT["g5.xlarge"]) == 0
    assert "tainted nvidia.com/gpu" in fit_report(req, CAT["g5.xlarge"])[0]
    assert replicas_per_node(req, CAT["inf2.xlarge"]) == 0
    assert replicas_per_node(Requests(1000, 1024, inferentia=1), CAT["inf2.xlarge"]) == 1


def test_arch_and_missing_allocatable_data():
    assert "needs arch arm64, m6i.large is amd64" in fit_report(Requests(100, 100, arch="arm64"), CAT["m6i.large"])
    assert replicas_per_node(Requests(100, 100, arch="arm64"), CAT["m6g.large"]) > 0
    assert "no allocatable CPU/memory" in fit_report(Requests(100, 100, gpu=1), CAT["p3.2xlarge"])[0]


def test_sidecars_count_toward_the_replica():
    m = CAT["m6i.large"]  # 1930m allocatable, 1730m after reserve
    req = Requests.parse("1500m", "1Gi")
    proxy = Requests.parse("300m", "128Mi")
    assert replicas_per_node(req, m) == 1
    assert replicas_per_node(req, m, sidecars=[proxy]) == 0
    assert fit_report(req, m, sidecars=[proxy]) == [
        "needs 1800m CPU, m6i.large allocates 1930m, 1730m after 200m reserved for per-node DaemonSets"]


def test_custom_reserve():
    m = CAT["m6i.large"]
    assert replicas_per_node(Requests(1930, 100), m, reserve=NodeReserve(0, 0, 0)) == 1
    assert replicas_per_node(Requests(1930, 100), m, reserve=DEFAULT_NODE_RESERVE) == 0


def test_fitting_types_filters_and_sorts_by_price_per_replica():
    req = Requests.parse("3", "12Gi", gpu=1)
    names = [t.name for t in fitting_types(req, allowed=lambda t: t.family in ("g5", "g6"))]
    assert names[0] == "g6.xlarge"  # 0.8048 per replica
    assert "g5.xlarge" in names and all(n.startswith(("g5.", "g6.")) for n in names)
    assert [t.name for t in fitting_types(req, allowed=["g5.xlarge", "m6i.large"])] == ["g5.xlarge"]


@pytest.mark.parametrize("name, reserve", [
    # 200m / 300 MiB / 4 pods on every node; + 100m / 256 MiB / 2 pods for the GPU add-ons; + 50m / 128 MiB / 1 pod
    # for the Neuron device plugin (the figures in sizing.py's reserve docstrings).
    ("m6i.large", (200, 300, 4)), ("g5.xlarge", (300, 556, 6)), ("inf2.xlarge", (250, 428, 5)),
])
def test_per_node_reserve_by_device(name: str, reserve: tuple[int, int, int]) -> None:
    from modelstack.capacity.sizing import reserve_for

    r = reserve_for(catalog()[name])
    assert (r.cpu_millicores, r.memory_mib, r.pods) == reserve
