"""tools/upstream.py: the pinned upstream CRDs, fetched from the Go module, checksummed, cached outside the clone."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import upstream
import yaml

from modelstack.render.charts import CHARTS

ROOT = Path(__file__).resolve().parents[1]


# --- the recorded checksums follow the chart pins ---------------------------------------------------------------

@pytest.mark.parametrize("chart", sorted(upstream.UPSTREAMS))
def test_every_pinned_chart_has_its_module_checksum_recorded(chart):
    # Bumping a chart pin without recording its module fails here (and in every CRD test, with the command).
    key = f"{upstream.UPSTREAMS[chart].module}@v{CHARTS[chart].app_version.lstrip('v')}"
    assert key in upstream.load_sums(), f"run `.venv/bin/python tools/upstream.py record {chart}`"


def test_the_checksum_file_holds_only_pinned_versions():
    pinned = {f"{u.module}@{upstream.version(c)}" for c, u in upstream.UPSTREAMS.items()}
    assert set(upstream.load_sums()) == pinned


@pytest.mark.parametrize("chart", sorted(upstream.UPSTREAMS))
def test_the_cached_module_zip_hashes_to_the_checksum_database_value(chart):
    # The recorded h1 was read from the Go checksum database: recomputing it from the real zip is the known answer
    # for our dirhash implementation.
    up, ver = upstream.UPSTREAMS[chart], upstream.version(chart)
    files = upstream.module_files(up.module, ver, upstream.module_zip_path(chart).read_bytes())
    assert upstream.hash1(files) == upstream.load_sums()[f"{up.module}@{ver}"]["h1"]


def test_a_version_with_no_recorded_checksum_names_the_command_that_records_it():
    with pytest.raises(upstream.UpstreamError) as e:
        upstream.crd_dir("keda", sums={})
    assert "github.com/kedacore/keda/v2@v2.20.2" in str(e.value)
    assert "`.venv/bin/python tools/upstream.py record keda`" in str(e.value)


@pytest.mark.parametrize("chart", sorted(upstream.UPSTREAMS))
def test_each_fetched_file_is_one_crd(chart):
    for f in upstream.crd_files(chart):
        doc = yaml.safe_load(f.read_text())
        assert doc["apiVersion"] == "apiextensions.k8s.io/v1" and doc["kind"] == "CustomResourceDefinition", f.name


# --- the protocol details ----------------------------------------------------------------------------------------

def test_module_paths_are_case_escaped_as_the_proxy_protocol_says():
    assert upstream.escape("github.com/Azure/azure-sdk-for-go") == "github.com/!azure/azure-sdk-for-go"
    assert upstream.escape("github.com/kedacore/keda/v2") == "github.com/kedacore/keda/v2"


@pytest.mark.parametrize("goproxy, want", [
    (None, [upstream.DEFAULT_PROXY]),
    ("", [upstream.DEFAULT_PROXY]),
    ("https://a.example/,direct", ["https://a.example"]),
    ("https://a.example|https://b.example", ["https://a.example", "https://b.example"]),
    ("https://a.example,off,https://b.example", ["https://a.example"]),
    ("off", []),
])
def test_goproxy_is_read_as_the_go_command_reads_it(monkeypatch, goproxy, want):
    if goproxy is None:
        monkeypatch.delenv("GOPROXY", raising=False)
    else:
        monkeypatch.setenv("GOPROXY", goproxy)
    assert upstream.proxies() == want


def test_the_cache_is_outside_the_clone_and_overridable(monkeypatch, tmp_path):
    monkeypatch.delenv("MODELSTACK_UPSTREAM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert upstream.cache_root() == tmp_path / "xdg" / "modelstack" / "upstream"
    monkeypatch.setenv("MODELSTACK_UPSTREAM_CACHE", str(tmp_path / "mine"))
    assert upstream.cache_root() == tmp_path / "mine"


def test_hash1_depends_on_every_name_and_byte_but_not_on_zip_order():
    a = {"m@v1/a": b"1", "m@v1/b": b"2"}
    assert upstream.hash1(a) == upstream.hash1(dict(reversed(list(a.items()))))
    assert upstream.hash1(a) != upstream.hash1({"m@v1/a": b"1", "m@v1/b": b"3"})
    assert upstream.hash1(a) != upstream.hash1({"m@v1/a": b"1", "m@v1/c": b"2"})


# --- fetching, against a module proxy in a folder (GOPROXY=file://...) --------------------------------------------

MODULE = "example.com/Org/crds"
CRD = yaml.safe_dump({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                      "metadata": {"name": "things.example.com"}}).encode()


def _zip(ver: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(f"{MODULE}@{ver}/{name}", data)
    return buf.getvalue()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Chart `keda` pointed at a fake module in a file:// proxy; returns (sums, zip path, cache dir)."""
    ver = upstream.version("keda")
    files = {"go.mod": b"module example.com/Org/crds\n", "crds/things.yaml": CRD, "crds/README.md": b"not a crd"}
    data = _zip(ver, files)
    proxy = tmp_path / "proxy"
    zpath = proxy / upstream.escape(MODULE) / "@v" / f"{ver}.zip"
    zpath.parent.mkdir(parents=True)
    zpath.write_bytes(data)
    sums = {f"{MODULE}@{ver}": {"h1": upstream.hash1({f"{MODULE}@{ver}/{n}": b for n, b in files.items()}),
                                "files": {"crds/things.yaml": hashlib.sha256(CRD).hexdigest()}}}
    monkeypatch.setitem(upstream.UPSTREAMS, "keda", upstream.Upstream(MODULE, "crds/*.yaml"))
    monkeypatch.setenv("GOPROXY", proxy.as_uri())
    monkeypatch.setenv("MODELSTACK_UPSTREAM_CACHE", str(tmp_path / "cache"))
    return sums, zpath, tmp_path / "cache"


def test_fetch_extracts_the_matching_files_and_caches_them(fake, monkeypatch):
    sums, _, cache = fake
    d = upstream.crd_dir("keda", sums=sums)
    assert d == cache / "crds" / "keda" / upstream.version("keda")
    assert sorted(p.name for p in d.iterdir()) == ["things.yaml"]
    assert (d / "things.yaml").read_bytes() == CRD
    monkeypatch.setenv("GOPROXY", "off")  # the second use needs no network
    assert upstream.crd_dir("keda", sums=sums) == d


def test_a_damaged_cache_is_fetched_again(fake, monkeypatch):
    sums, _, _ = fake
    d = upstream.crd_dir("keda", sums=sums)
    (d / "things.yaml").write_text("kind: Edited\n")
    (d / "extra.yaml").write_text("{}\n")
    monkeypatch.setenv("GOPROXY", "off")  # rebuilt from the verified zip in the cache
    assert sorted(p.name for p in upstream.crd_dir("keda", sums=sums).iterdir()) == ["things.yaml"]
    assert (d / "things.yaml").read_bytes() == CRD


def test_a_zip_that_does_not_hash_to_the_recorded_h1_is_refused(fake):
    sums, zpath, cache = fake
    ver = upstream.version("keda")
    zpath.write_bytes(_zip(ver, {"go.mod": b"module example.com/Org/crds\n", "crds/things.yaml": CRD + b"#"}))
    with pytest.raises(upstream.UpstreamError, match="refusing it"):
        upstream.crd_dir("keda", sums=sums)
    assert not (cache / "crds" / "keda" / ver).exists()
    assert not upstream.zip_path(MODULE, ver).exists()


def test_a_crd_whose_sha256_differs_from_the_record_is_refused(fake):
    sums, _, _ = fake
    key = next(iter(sums))
    bad = {key: {**sums[key], "files": {"crds/things.yaml": "0" * 64}}}
    with pytest.raises(upstream.UpstreamError, match="does not match its sha256"):
        upstream.crd_dir("keda", sums=bad)


def test_a_zip_entry_outside_the_module_prefix_is_refused():
    with pytest.raises(upstream.UpstreamError, match="outside"):
        upstream.module_files(MODULE, "v1.0.0", _zip("v1.0.1", {"go.mod": b""}))


def test_offline_with_nothing_cached_is_a_clear_error(fake, monkeypatch):
    sums, _, cache = fake
    monkeypatch.setenv("GOPROXY", "http://127.0.0.1:9")  # discard port on loopback: connection refused at once
    with pytest.raises(upstream.UpstreamError) as e:
        upstream.crd_dir("keda", sums=sums)
    msg = str(e.value)
    assert "http://127.0.0.1:9/example.com/!org/crds/@v/" in msg
    assert f"Nothing verified is cached in {cache}" in msg and "MODELSTACK_UPSTREAM_CACHE" in msg


def test_the_command_line_reports_an_unknown_chart_with_exit_2():
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "upstream.py"), "fetch", "nope"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "CHART is one of: keda, keda-add-ons-http, karpenter" in p.stderr


# --- e2e/run.py installs the pinned CRDs through the same module --------------------------------------------------

def test_e2e_installs_the_keda_and_http_add_on_crds_of_the_pins():
    code = "import sys; sys.path.insert(0, 'e2e'); import run, json; print(json.dumps([str(f) for f in run.crd_files()]))"
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ})
    assert p.returncode == 0, p.stderr
    got = [Path(f) for f in json.loads(p.stdout)]
    assert got == upstream.crd_files("keda") + upstream.crd_files("keda-add-ons-http")
    assert {f.name for f in got} >= {"keda.sh_scaledobjects.yaml", "http.keda.sh_interceptorroutes.yaml"}
