"""The e2e real node's pure parts: images, the registry that serves them, the load generator's target guard, the
serving checks, and the CoreDNS pin (`make e2e` runs the rest for real)."""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "e2e"))

import images  # noqa: E402
import load  # noqa: E402
import procs  # noqa: E402
import realnode  # noqa: E402
import serving  # noqa: E402
from registry import Registry  # noqa: E402


def versions() -> dict[str, str]:
    out = {}
    for line in (ROOT / "e2e" / "versions.env").read_text().splitlines():
        m = re.match(r"(\w+)=(\S+)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def test_coredns_pin_is_the_version_recorded_from_kubeadm_of_our_kubernetes():
    text = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| CoreDNS version the kubeadm"))
    recorded = re.search(r"`(v[\d.]+)`", row).group(1)
    assert f"k8s.io/kubernetes@{versions()['K8S_VERSION']}" in row
    assert versions()["COREDNS_VERSION"] == recorded


def _image(tmp_path: Path, version: str) -> images.Image:
    f = tmp_path / "bin"
    f.write_bytes(b"#!static\n" + version.encode())
    img = images.Image(f"{images.MODEL_SERVER}:{version}", entrypoint=["/bin/server"], env=[f"V={version}"])
    img.add_file("/bin/server", f)
    return img


def test_an_image_built_twice_has_one_digest_and_another_version_another(tmp_path):
    store = images.Store(tmp_path / "store")
    a = store.add(_image(tmp_path, "v1"))
    assert store.add(_image(tmp_path, "v1")) == a
    b = store.add(_image(tmp_path, "v2"))
    assert b != a
    assert store.refs() == {f"{images.MODEL_SERVER}:v1": a, f"{images.MODEL_SERVER}:v2": b}


def test_the_manifest_names_blobs_whose_bytes_hash_to_their_digests(tmp_path):
    store = images.Store(tmp_path / "store")
    d = store.add(_image(tmp_path, "v1"))
    digest, body = store.manifest(f"{images.MODEL_SERVER}:v1")
    assert digest == d == "sha256:" + hashlib.sha256(body).hexdigest()
    m = json.loads(body)
    for desc in [m["config"], *m["layers"]]:
        data = store.blob_path(desc["digest"]).read_bytes()
        assert len(data) == desc["size"] and "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]
    cfg = json.loads(store.blob_path(m["config"]["digest"]).read_bytes())
    assert cfg["config"]["Entrypoint"] == ["/bin/server"]
    assert cfg["rootfs"]["diff_ids"] == [m["layers"][0]["digest"]]
    with tarfile.open(fileobj=io.BytesIO(store.blob_path(m["layers"][0]["digest"]).read_bytes())) as t:
        names = {i.name: i for i in t.getmembers()}
    assert names["bin/server"].mode == 0o755 and names["tmp"].isdir() and "etc/passwd" in names


def test_the_oci_archive_holds_the_image_under_its_reference(tmp_path):
    store = images.Store(tmp_path / "store")
    d = store.add(_image(tmp_path, "v1"))
    out = store.oci_archive(f"{images.MODEL_SERVER}:v1", tmp_path / "a.tar")
    with tarfile.open(out) as t:
        index = json.loads(t.extractfile("index.json").read())
        names = set(t.getnames())
    assert index["manifests"][0]["digest"] == d
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == f"{images.MODEL_SERVER}:v1"
    assert f"blobs/sha256/{d.split(':')[1]}" in names and "oci-layout" in names


@pytest.mark.skipif(not shutil.which("haproxy") and not os.environ.get("MODELSTACK_REQUIRE_HAPROXY"),
                    reason="Debian's haproxy not installed (make haproxy)")
def test_the_proxy_image_carries_haproxy_its_libraries_and_the_loader(tmp_path):
    img = images.haproxy("example/haproxy:x", "/usr/local/etc/haproxy", "haproxy.cfg")
    libs = images.shared_libraries(images.HAPROXY_BIN)
    assert any("ld-linux" in lib for lib in libs)
    for p in [images.HAPROXY_BIN, *libs]:
        assert p.lstrip("/") in img.files
    assert img.entrypoint[-1] == "/usr/local/etc/haproxy/haproxy.cfg" and img.stop_signal == "SIGUSR1"


def test_the_registry_serves_manifests_by_reference_and_digest_and_blobs(tmp_path):
    store = images.Store(tmp_path / "store")
    d = store.add(_image(tmp_path, "v1"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    reg = Registry(store, sock).start()
    base = f"http://{reg.address}/v2"
    try:
        name = images.MODEL_SERVER.split("/", 1)[1]
        with urllib.request.urlopen(f"{base}/{name}/manifests/v1?ns={images.LOCAL_REGISTRY}", timeout=5) as r:
            assert r.headers["Docker-Content-Digest"] == d
            m = json.loads(r.read())
        with urllib.request.urlopen(f"{base}/{name}/manifests/{d}", timeout=5) as r:
            assert r.headers["Content-Type"] == images.MANIFEST
        layer = m["layers"][0]["digest"]
        with urllib.request.urlopen(f"{base}/{name}/blobs/{layer}", timeout=5) as r:
            assert "sha256:" + hashlib.sha256(r.read()).hexdigest() == layer
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/{name}/manifests/v9?ns={images.LOCAL_REGISTRY}", timeout=5)
        assert e.value.code == 404
        assert reg.pulls == [f"{images.MODEL_SERVER}:v1", d]
    finally:
        reg.stop()


def test_the_load_generator_only_targets_the_runs_networks_and_loopback():
    load.check_target("127.0.0.1", [])
    load.check_target("10.120.4.7", ["10.120.4.0/24"])
    for host in ("192.0.2.2", "10.120.5.7", "8.8.8.8"):
        with pytest.raises(SystemExit):
            load.check_target(host, ["10.120.4.0/24"])


def test_every_serving_model_targets_the_real_nodes_pool_and_tolerates_its_taint():
    taint = "example.io/real"
    ms = serving.models(taint, "v2")
    assert set(ms) == {serving.ROLLOUT, serving.LIMITS}
    for m in ms.values():
        assert m["placement"]["node_pool"] == serving.node_labels()["modelstack.io/node-pool"]
        assert {"key": taint, "value": "true", "effect": "NoSchedule"} in m["placement"]["tolerate_taints"]
        assert m["image"].endswith(":v2")


def _rollout(**kw) -> dict:
    r = {"rolled_out": True, "failed": 0, "requests": 100, "failures_by_kind": {}, "answers_by_version": {"v1": 50, "v2": 50}}
    return {**r, **kw}


def _limits(**kw) -> dict:
    lm = {"shed_503": 5, "other_errors": 0, "accepted": serving.LIMITS_CONCURRENCY + serving.LIMITS_QUEUE,
          "shed_p99_ms": 10.0}
    return {**lm, **kw}


OVERHEAD = {"failed": 0, "added_p50_ms": 0.2}
DNS = {"ok": True, "answers": {}}


def test_serving_checks_pass_only_when_every_goal_holds():
    assert serving.checks({"rollout": _rollout(), "limits": _limits(), "overhead": OVERHEAD, "dns": DNS}) == []
    bad = [
        {"rollout": _rollout(failed=1, failures_by_kind={"503": 1})},
        {"rollout": _rollout(rolled_out=False)},
        {"rollout": _rollout(answers_by_version={"v1": 100})},
        {"limits": _limits(shed_503=0)},
        {"limits": _limits(other_errors=1)},
        {"limits": _limits(accepted=serving.LIMITS_CONCURRENCY + serving.LIMITS_QUEUE + 1)},
        {"limits": _limits(shed_p99_ms=serving.SHED_FAST_MS + 1)},
        {"overhead": {"failed": 2, "added_p50_ms": 0.1}},
        {"dns": {"ok": False, "answers": {"a": "502: no such host"}}},
    ]
    for b in bad:
        s = {"rollout": _rollout(), "limits": _limits(), "overhead": OVERHEAD, "dns": DNS, **b}
        assert len(serving.checks(s)) == 1, b
    assert len(serving.checks({})) == 4


def test_processes_stop_ends_what_they_started_and_wait_fails_when_one_died(tmp_path):
    ps = procs.Processes(tmp_path / "logs")
    sleeper = ps.start("sleeper", ["sleep", "30"])
    quitter = ps.start("quitter", ["sh", "-c", "echo bye; exit 3"])
    quitter.wait(timeout=10)
    with pytest.raises(RuntimeError, match="quitter exited \\(3\\)"):
        ps.wait("never", lambda: False, timeout=5)
    ps.stop()
    assert sleeper.poll() is not None and ps.items == []
    assert (tmp_path / "logs" / "quitter.log").read_text() == "bye\n"


def test_the_node_subnet_overlaps_nothing_on_the_host_and_the_node_address_is_outside_the_pods():
    net = realnode.free_subnet(random.Random(7))
    host = [ipaddress.ip_network(w, strict=False) for w in subprocess.run(
        ["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout.split() if "/" in w]
    assert net.prefixlen == 23 and not any(net.overlaps(h) for h in host)
    host_side, node_side = realnode.link_addresses(net)
    pods = ipaddress.ip_network(f"{net.network_address}/24")
    for a in (host_side, node_side):
        assert ipaddress.ip_address(a) in net and ipaddress.ip_address(a) not in pods
