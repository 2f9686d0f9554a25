"""Upstream CRDs for the tests and `make e2e`, fetched from the upstream Go module at the version a chart pin names.

Each chart below ships CRDs that are also files of its project's Go module (KEDA `config/crd/bases/`, the HTTP
add-on `config/crd/bases/`, Karpenter `pkg/apis/crds/`). The module version is `v<app version>` of the chart pin
(`modelstack.render.charts.CHARTS`), so bumping a pin brings its CRDs with it. Downloads come from the Go module
proxy (`$GOPROXY`, the Go default when unset) as the module zip, are verified twice against `upstream.sum.json`
beside this file (the zip's `h1:` hash, as in go.sum and the Go checksum database, then each CRD file's sha256).
The verified zip and the extracted CRDs are cached outside the clone, in `$MODELSTACK_UPSTREAM_CACHE` (default
`${XDG_CACHE_HOME:-~/.cache}/modelstack/upstream`): one download per version, every write atomic, every use
re-verified. A version with no recorded checksum is refused with the command that records it:

    .venv/bin/python tools/upstream.py record CHART   # h1 from the checksum database, zip verified, recorded
    .venv/bin/python tools/upstream.py fetch [CHART]  # fetch (or reuse); print each chart's CRD directory

Standard library only, plus the installed package's chart pins. Used by `make crds`, the tests and e2e/run.py;
not part of the installed `modelstack`, whose runtime never needs CRD files.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple, Optional

HERE = Path(__file__).resolve().parent
SUMS = HERE / "upstream.sum.json"
DEFAULT_PROXY = "https://proxy.golang.org"  # Go's default GOPROXY
SUMDB = "sum.golang.org"
TIMEOUT_S = 60
MAX_ZIP_BYTES = 500 << 20  # the Go command's own limit on a module zip


class UpstreamError(RuntimeError):
    """An upstream file could not be obtained or did not verify; the message says what to do."""


class Upstream(NamedTuple):
    module: str
    """Go module path (the module zip holds the CRD files)."""
    crds: str
    """Glob of the CRD files inside the module, e.g. `config/crd/bases/keda.sh_*.yaml`."""


#: Chart name (a key of CHARTS) -> the Go module whose files at `v<app version>` are the chart's CRDs.
UPSTREAMS: dict[str, Upstream] = {
    "keda": Upstream("github.com/kedacore/keda/v2", "config/crd/bases/keda.sh_*.yaml"),
    "keda-add-ons-http": Upstream("github.com/kedacore/http-add-on", "config/crd/bases/http.keda.sh_*.yaml"),
    "karpenter": Upstream("github.com/aws/karpenter-provider-aws", "pkg/apis/crds/*.yaml"),
}


def version(chart: str) -> str:
    """The module version a chart pin names: `v` + its app version ("2.20.2" -> "v2.20.2")."""
    from modelstack.render.charts import CHARTS

    return "v" + CHARTS[chart].app_version.lstrip("v")


def cache_root() -> Path:
    """Where fetched files live: $MODELSTACK_UPSTREAM_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/modelstack/upstream."""
    if os.environ.get("MODELSTACK_UPSTREAM_CACHE"):
        return Path(os.environ["MODELSTACK_UPSTREAM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "modelstack" / "upstream"


def proxies() -> list[str]:
    """The module proxies to try, in order, from $GOPROXY (`direct` is skipped: no VCS access here; `off` ends)."""
    out = []
    for entry in (os.environ.get("GOPROXY") or DEFAULT_PROXY).replace("|", ",").split(","):
        entry = entry.strip().rstrip("/")
        if entry == "off":
            break
        if entry and entry != "direct":
            out.append(entry)
    return out


def escape(path: str) -> str:
    """A module path or version as the proxy protocol spells it: each capital letter as `!` + its lower case."""
    return "".join("!" + c.lower() if c.isupper() else c for c in path)


def hash1(files: dict[str, bytes]) -> str:
    """Go's dirhash Hash1 over file name -> content: base64 sha256 of the sorted `"<sha256 hex>  <name>\\n"` lines."""
    lines = []
    for name in sorted(files):
        if "\n" in name:
            raise UpstreamError(f"file name with a newline in a module zip: {name!r}")
        lines.append(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def load_sums(path: Path = SUMS) -> dict[str, dict]:
    """`module@version` -> {"h1": ..., "files": {path in the module: sha256 hex}}."""
    return json.loads(path.read_text()) if path.exists() else {}


def _get(url: str) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "modelstack-upstream"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:  # noqa: S310 (https or a file:// proxy)
        data = r.read(MAX_ZIP_BYTES + 1)
    if len(data) > MAX_ZIP_BYTES:
        raise UpstreamError(f"{url}: larger than {MAX_ZIP_BYTES} bytes")
    return data


def _from_proxies(suffix: str, what: str, offline_hint: str) -> bytes:
    errors = []
    for proxy in proxies():
        url = f"{proxy}/{suffix}"
        try:
            return _get(url)
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
    tried = "; ".join(errors) or f"GOPROXY={os.environ.get('GOPROXY')!r} names no proxy"
    raise UpstreamError(f"cannot download {what} ({tried}). {offline_hint}")


def module_files(module: str, ver: str, zip_bytes: bytes) -> dict[str, bytes]:
    """The files of a module zip by their path inside the module (every entry must sit under `module@version/`)."""
    prefix = f"{module}@{ver}/"
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        names = [i.filename for i in z.infolist()]
        bad = [n for n in names if not n.startswith(prefix)]
        if bad:
            raise UpstreamError(f"{module}@{ver}: zip entry {bad[0]!r} is outside {prefix}")
        return {n: z.read(n) for n in names}


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def zip_path(module: str, ver: str) -> Path:
    """Where a verified module zip is cached (the Go module cache's `cache/download` layout)."""
    return cache_root() / "download" / escape(module) / "@v" / f"{escape(ver)}.zip"


def _check_h1(key: str, files: dict[str, bytes], want: str) -> None:
    got = hash1(files)
    if got != want:
        raise UpstreamError(f"{key}: the module zip hashes to {got}, but tools/{SUMS.name} records {want}: refusing "
                            "it (these are not the bytes the Go checksum database knows for that version)")


def module_zip(up: Upstream, ver: str, entry: dict, hint: str) -> dict[str, bytes]:
    """The files of the module zip, held to the recorded h1: from the cache, else downloaded (then cached)."""
    key = f"{up.module}@{ver}"
    path = zip_path(up.module, ver)
    if path.is_file():
        try:
            files = module_files(up.module, ver, path.read_bytes())
            _check_h1(key, files, entry["h1"])
            return files
        except (UpstreamError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # damaged or stale: fetch it again
    data = _from_proxies(f"{escape(up.module)}/@v/{escape(ver)}.zip", key, hint)
    try:
        files = module_files(up.module, ver, data)
    except zipfile.BadZipFile:
        raise UpstreamError(f"{key}: the proxy answered with something that is not a zip") from None
    _check_h1(key, files, entry["h1"])
    _atomic_write(path, data)
    return files


def _crds(chart: str, up: Upstream, ver: str, files: dict[str, bytes], entry: dict) -> dict[str, bytes]:
    """The CRD files (by path in the module) of a verified zip, each held to its recorded sha256."""
    prefix = f"{up.module}@{ver}/"
    crds = {n[len(prefix):]: b for n, b in files.items() if fnmatch.fnmatchcase(n[len(prefix):], up.crds)}
    if set(crds) != set(entry["files"]):
        raise UpstreamError(f"{up.module}@{ver}: {up.crds} matches {sorted(crds)}, but tools/{SUMS.name} records "
                            f"{sorted(entry['files'])}: re-record with `.venv/bin/python tools/upstream.py record {chart}`")
    for name, data in crds.items():
        if hashlib.sha256(data).hexdigest() != entry["files"][name]:
            raise UpstreamError(f"{up.module}@{ver}: {name} does not match its sha256 in tools/{SUMS.name}")
    return crds


def _cached_ok(directory: Path, entry: dict) -> bool:
    if not directory.is_dir():
        return False
    want = {Path(n).name: h for n, h in entry["files"].items()}
    have = {p.name for p in directory.iterdir()}
    return have == set(want) and all(
        hashlib.sha256((directory / n).read_bytes()).hexdigest() == h for n, h in want.items())


def crd_dir(chart: str, *, sums: Optional[dict[str, dict]] = None) -> Path:
    """The directory of `chart`'s CRD files at its pinned version, fetched and verified on first use, then cached.

    Raises UpstreamError when no checksum is recorded for that version, when what was downloaded does not verify,
    or when nothing is cached and no module proxy can be reached.
    """
    if chart not in UPSTREAMS:
        raise UpstreamError(f"no upstream CRDs known for chart {chart!r} (known: {', '.join(UPSTREAMS)})")
    up = UPSTREAMS[chart]
    ver = version(chart)
    key = f"{up.module}@{ver}"
    entry = (load_sums() if sums is None else sums).get(key)
    if entry is None:
        raise UpstreamError(
            f"no checksum recorded for {key} (chart {chart} pins app version {ver.lstrip('v')}): after reading its "
            f"CRDs at that tag, run `.venv/bin/python tools/upstream.py record {chart}` to add it to tools/{SUMS.name}")
    dest = cache_root() / "crds" / chart / ver
    if _cached_ok(dest, entry):
        return dest
    hint = (f"Nothing verified is cached in {cache_root()}: connect once to a Go module proxy (GOPROXY, default "
            f"{DEFAULT_PROXY}), or set MODELSTACK_UPSTREAM_CACHE to a folder that holds crds/{chart}/{ver}/.")
    crds = _crds(chart, up, ver, module_zip(up, ver, entry, hint), entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ver}-", dir=dest.parent))
    try:
        for name, data in crds.items():
            (tmp / Path(name).name).write_bytes(data)
        if dest.exists():  # present but not verified: replace it
            shutil.rmtree(dest)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not _cached_ok(dest, entry):  # not another process that got there first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def module_zip_path(chart: str) -> Path:
    """The cached, verified module zip of `chart` at its pinned version (downloaded first when it is not cached)."""
    up, ver = UPSTREAMS[chart], version(chart)
    entry = load_sums()[f"{up.module}@{ver}"]
    module_zip(up, ver, entry, "Nothing is cached.")
    return zip_path(up.module, ver)


def module_tree(chart: str, under: str) -> dict[str, bytes]:
    """The files under `under` (a folder of the module, e.g. "config/") of `chart`'s module at its pinned version,
    by path inside the module, from the zip held to its recorded h1 (downloaded first when it is not cached)."""
    up, ver = UPSTREAMS[chart], version(chart)
    key = f"{up.module}@{ver}"
    entry = load_sums().get(key)
    if entry is None:
        raise UpstreamError(f"no checksum recorded for {key}: run `.venv/bin/python tools/upstream.py record {chart}`")
    prefix = f"{key}/"
    files = module_zip(up, ver, entry, f"Nothing verified is cached in {cache_root()}: connect once to a Go module "
                                       f"proxy (GOPROXY, default {DEFAULT_PROXY}).")
    under = under.rstrip("/") + "/"
    return {n[len(prefix):]: b for n, b in files.items() if n[len(prefix):].startswith(under)}


def crd_files(chart: str) -> list[Path]:
    """Every CRD file of `chart` at its pinned version, sorted by name."""
    return sorted(crd_dir(chart).glob("*.yaml"))


def lookup_h1(module: str, ver: str) -> str:
    """The module zip's h1 from the Go checksum database (through the proxy's sumdb endpoint, else directly)."""
    path = f"lookup/{escape(module)}@{escape(ver)}"
    hint = "Recording a checksum needs the network."
    try:
        text = _from_proxies(f"sumdb/{SUMDB}/{path}", f"the checksum of {module}@{ver}", hint).decode()
    except UpstreamError:
        try:
            text = _get(f"https://{SUMDB}/{path}").decode()
        except (urllib.error.URLError, OSError) as e:
            raise UpstreamError(f"cannot read {module}@{ver} from the checksum database {SUMDB}: {e}. {hint}") from None
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == [module, ver] and len(parts) == 3 and parts[2].startswith("h1:"):
            return parts[2]
    raise UpstreamError(f"{SUMDB} has no zip hash for {module}@{ver}")


def record(chart: str, path: Path = SUMS) -> dict:
    """Add `chart`'s module at its pinned version to the checksum file: h1 from the checksum database, the zip
    downloaded and held to it, each matching CRD file's sha256. Returns the new entry."""
    up = UPSTREAMS[chart]
    ver = version(chart)
    h1 = lookup_h1(up.module, ver)
    zip_bytes = _from_proxies(f"{escape(up.module)}/@v/{escape(ver)}.zip", f"{up.module}@{ver}", "")
    files = module_files(up.module, ver, zip_bytes)
    if hash1(files) != h1:
        raise UpstreamError(f"{up.module}@{ver}: the zip hashes to {hash1(files)}, the checksum database says {h1}")
    prefix = f"{up.module}@{ver}/"
    crds = {n[len(prefix):]: hashlib.sha256(b).hexdigest() for n, b in files.items()
            if fnmatch.fnmatchcase(n[len(prefix):], up.crds)}
    if not crds:
        raise UpstreamError(f"{up.module}@{ver} has no file matching {up.crds}")
    sums = load_sums(path)
    sums[f"{up.module}@{ver}"] = entry = {"h1": h1, "files": dict(sorted(crds.items()))}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(sums.items())), indent=2) + "\n")
    os.replace(tmp, path)
    return entry


def main(argv: list[str]) -> int:
    usage = "usage: upstream.py fetch [CHART ...] | record CHART ..."
    if not argv or argv[0] not in ("fetch", "record"):
        print(usage, file=sys.stderr)
        return 2
    charts = argv[1:] or (list(UPSTREAMS) if argv[0] == "fetch" else [])
    unknown = [c for c in charts if c not in UPSTREAMS]
    if not charts or unknown:
        print(f"{usage}\nCHART is one of: {', '.join(UPSTREAMS)}" + (f" (got {unknown})" if unknown else ""),
              file=sys.stderr)
        return 2
    try:
        for chart in charts:
            if argv[0] == "record":
                entry = record(chart)
                print(f"{UPSTREAMS[chart].module}@{version(chart)} {entry['h1']}: {len(entry['files'])} CRD files")
            else:
                print(f"{chart} {version(chart)}: {crd_dir(chart)}")
    except UpstreamError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
