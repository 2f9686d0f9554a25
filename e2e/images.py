"""Container images for the real node, built here from files the build made (no registry, no daemon, no pull).

An image is one uncompressed layer (a reproducible tar: sorted entries, mtime 0, owner root) plus an OCI image
config and manifest, written content-addressed into a store folder (`blobs/sha256/<hex>`, `refs.json`: image
reference -> manifest digest). `registry.py` serves a store to containerd as a read-only registry on the node's
loopback; `oci_archive` writes one image as an OCI archive for `ctr images import`.

The images (`standard(...)`):
- `PAUSE`: our static pause binary (e2e/tools/pause), the pod sandbox.
- `model_server(version)`: our static stand-in model server (e2e/tools/modelserver), MODEL_VERSION baked in, so two
  versions are two images with different digests (an image change that rolls the pods).
- `proxy.IMAGE` (the reference the ModelAPI renders): Debian's haproxy binary with the shared libraries `ldd`
  names and the dynamic loader, run as the official image runs it (`haproxy -W -db -f
  /usr/local/etc/haproxy/haproxy.cfg`, stop signal SIGUSR1). It is Debian's version (`haproxy_version()`), not the
  3.2.21 the reference names: see e2e/README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"

LOCAL_REGISTRY = "e2e.modelstack.local"
"""Registry host of our own images (only the run's registry serves it)."""
PAUSE = f"{LOCAL_REGISTRY}/pause:1"
MODEL_SERVER = f"{LOCAL_REGISTRY}/modelserver"
HAPROXY_BIN = "/usr/sbin/haproxy"
PASSWD = "root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"


@dataclass
class Image:
    """A rootfs (path in the image -> file content and mode) and its entrypoint."""

    ref: str
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    stop_signal: str = ""
    dirs: tuple[str, ...] = ("etc", "tmp", "dev", "proc", "sys")
    user: str = ""
    """The image's USER ("65532:65532"); empty: root. Pods with runAsNonRoot and no runAsUser need a numeric one."""

    def add_file(self, path: str, src: Path, mode: int = 0o755) -> None:
        self.files[path.lstrip("/")] = (Path(src).read_bytes(), mode)

    def layer(self) -> bytes:
        """The rootfs as a reproducible tar (the same files give the same bytes, hence the same digest)."""
        buf = io.BytesIO()
        files = {**self.files, "etc/passwd": (PASSWD.encode(), 0o644)}
        dirs = set(self.dirs)
        for p in files:
            parts = p.split("/")[:-1]
            dirs.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for d in sorted(dirs):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
                tar.addfile(ti)
            for p in sorted(files):
                data, mode = files[p]
                ti = tarfile.TarInfo(p)
                ti.size, ti.mode = len(data), mode
                tar.addfile(ti, io.BytesIO(data))
        return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Store:
    """Content-addressed blobs and the references that name manifests."""

    root: Path

    def __post_init__(self) -> None:
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    def blob_path(self, digest: str) -> Path:
        algo, _, hexd = digest.partition(":")
        if algo != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hexd):
            raise ValueError(f"bad digest {digest!r}")
        return self.root / "blobs" / "sha256" / hexd

    def put(self, data: bytes) -> dict:
        d = _digest(data)
        p = self.blob_path(d)
        if not p.exists():
            p.write_bytes(data)
        return {"digest": d, "size": len(data)}

    def refs(self) -> dict[str, str]:
        f = self.root / "refs.json"
        return json.loads(f.read_text()) if f.exists() else {}

    def add(self, image: Image) -> str:
        """Writes the image's blobs; returns its manifest digest (what `ref@digest` names)."""
        layer = image.layer()
        lay = {"mediaType": LAYER, **self.put(layer)}
        cfg = {"architecture": "amd64", "os": "linux",
               "config": {"Entrypoint": image.entrypoint, "Env": image.env, "WorkingDir": "/",
                          **({"StopSignal": image.stop_signal} if image.stop_signal else {}),
                          **({"User": image.user} if image.user else {})},
               "rootfs": {"type": "layers", "diff_ids": [lay["digest"]]}}
        c = {"mediaType": CONFIG, **self.put(json.dumps(cfg, sort_keys=True).encode())}
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": c, "layers": [lay]},
                              sort_keys=True).encode()
        m = self.put(manifest)
        refs = self.refs()
        refs[image.ref] = m["digest"]
        (self.root / "refs.json").write_text(json.dumps(refs, indent=1, sort_keys=True))
        return m["digest"]

    def manifest(self, ref_or_digest: str) -> tuple[str, bytes] | None:
        d = ref_or_digest if ref_or_digest.startswith("sha256:") else self.refs().get(ref_or_digest)
        if not d:
            return None
        p = self.blob_path(d)
        return (d, p.read_bytes()) if p.exists() else None

    def oci_archive(self, ref: str, out: Path) -> Path:
        """One image as an OCI archive (`oci-layout`, `index.json`, its blobs) for `ctr images import`."""
        d, manifest = self.manifest(ref) or (None, b"")
        if d is None:
            raise KeyError(ref)
        m = json.loads(manifest)
        index = {"schemaVersion": 2, "manifests": [{"mediaType": MANIFEST, "digest": d, "size": len(manifest),
                                                     "annotations": {"org.opencontainers.image.ref.name": ref}}]}
        with tarfile.open(out, "w") as tar:
            def add(name: str, data: bytes) -> None:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", json.dumps(index).encode())
            for b in [d, m["config"]["digest"], *(x["digest"] for x in m["layers"])]:
                add(f"blobs/sha256/{b.split(':')[1]}", self.blob_path(b).read_bytes())
        return out


def shared_libraries(binary: str) -> list[str]:
    """The absolute paths `ldd` resolves for a dynamic binary, the loader included."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
    return libs


def haproxy_version(binary: str = HAPROXY_BIN) -> str:
    """`haproxy -v`'s version, e.g. 2.6.12-1+deb12u4."""
    out = subprocess.run([binary, "-v"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"version (\S+)", out)
    return m.group(1) if m else "unknown"


def haproxy(ref: str, config_dir: str, config_file: str, binary: str = HAPROXY_BIN) -> Image:
    img = Image(ref, entrypoint=[binary, "-W", "-db", "-f", f"{config_dir}/{config_file}"], stop_signal="SIGUSR1",
                dirs=("etc", "tmp", "dev", "proc", "sys", config_dir.strip("/"), "var/lib/haproxy"))
    img.add_file(binary, Path(binary))
    for lib in shared_libraries(binary):
        img.add_file(lib, Path(lib).resolve())
    return img


def model_server(podbins: Path, version: str) -> Image:
    img = Image(f"{MODEL_SERVER}:{version}", entrypoint=["/modelserver"], env=[f"MODEL_VERSION={version}"])
    img.add_file("/modelserver", podbins / "modelserver")
    return img


def pause(podbins: Path) -> Image:
    img = Image(PAUSE, entrypoint=["/pause"])
    img.add_file("/pause", podbins / "pause")
    return img


def standard(store: Store, podbins: Path, proxy_ref: str, proxy_dir: str, proxy_file: str,
             model_versions: tuple[str, ...] = ("v1", "v2")) -> dict[str, str]:
    """Builds the pause, model server (one per version) and proxy images into `store`; ref -> manifest digest."""
    images = [pause(podbins), haproxy(proxy_ref, proxy_dir, proxy_file),
              *(model_server(podbins, v) for v in model_versions)]
    return {img.ref: store.add(img) for img in images}
