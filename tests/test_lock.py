"""The Python lock (requirements/*.lock, from `make lock`): what `make install` and the workflows install.

It must satisfy pyproject.toml's ranges, carry a hash for every file, pin exactly the versions UPSTREAM.md
records facts for, and be closed (every dependency of a locked package is locked too).
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import tomllib

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


class Pin:
    def __init__(self, name: str, version: str, marker: str | None, hashes: list[str]):
        self.name, self.version, self.hashes = canonicalize_name(name), Version(version), hashes
        self.marker = Marker(marker) if marker else None

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def parse_lock(path: Path) -> dict[str, list[Pin]]:
    """name -> its Pins (one per environment marker of a universal lock) of a pip requirements file with hashes."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins: dict[str, list[Pin]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)(?:\s*;\s*(.*?))?((?:\s+--hash=sha256:[0-9a-f]{64})*)", line)
        assert m, f"{path.name}: not a pinned, hashed requirement: {line[:120]}"
        name, version, marker, hashes = m.groups()
        pin = Pin(name, version, marker, re.findall(r"sha256:([0-9a-f]{64})", hashes))
        same = pins.setdefault(pin.name, [])
        assert all(p.marker and pin.marker for p in same), f"{path.name}: {name} twice without markers"
        same.append(pin)
    return pins


def here(lock: dict[str, list[Pin]], name: str) -> Pin:
    """The pin of `name` that applies on this machine."""
    (pin,) = [p for p in lock[name] if p.applies()]
    return pin


DEV = parse_lock(REQ / "dev.lock")
RUNTIME = parse_lock(REQ / "runtime.lock")
CHECKOV = parse_lock(REQ / "checkov.lock")


def requirements(*groups: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    for g in groups:
        reqs += [Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"][g]]
    return reqs + [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]


@pytest.mark.parametrize("lock, groups", [(DEV, ("dev",)), (RUNTIME, ())], ids=["dev", "runtime"])
def test_the_lock_satisfies_every_range_of_pyproject(lock, groups):
    for req in requirements(*groups):
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is not locked"
        for pin in lock[name]:
            assert req.specifier.contains(pin.version, prereleases=True), f"{name}=={pin.version} breaks {req}"


@pytest.mark.parametrize("lock", [DEV, RUNTIME, CHECKOV], ids=["dev", "runtime", "checkov"])
def test_every_locked_package_carries_hashes(lock):
    assert lock and all(p.hashes for pins in lock.values() for p in pins)


def test_the_checkov_lock_holds_the_checkov_version_asked_for():
    (req,) = [Requirement(line) for line in (REQ / "checkov.in").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert req.specifier.contains(here(CHECKOV, "checkov").version)


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools():
    def key(pins: list[Pin]) -> set:
        return {(str(p.version), str(p.marker), frozenset(p.hashes)) for p in pins}

    for name, pins in RUNTIME.items():
        assert name in DEV and key(DEV[name]) == key(pins), name
    dev_only = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert not dev_only & set(RUNTIME)


def test_the_build_backend_and_pip_come_from_the_lock():
    build_in = [Requirement(line) for line in (REQ / "build.in").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert {str(r) for r in build_in} >= set(PYPROJECT["build-system"]["requires"])
    assert {"pip", "setuptools", "wheel"} <= set(DEV) & set(RUNTIME)


def test_the_lock_is_closed_over_the_dependencies_of_what_it_locks():
    # Read from the installed metadata of each locked package (this venv was installed from dev.lock).
    missing = []
    for name, pins in DEV.items():
        if not any(p.applies() for p in pins):
            continue
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                if canonicalize_name(req.name) not in DEV:
                    missing.append(f"{name} needs {req}")
    assert missing == []


def test_this_venv_holds_exactly_the_locked_versions():
    # `make install` installs the lock; a venv that drifted from it is not what CI tests.
    drift = {n: (str(here(DEV, n).version), metadata.version(n)) for n, pins in DEV.items()
             if any(p.applies() for p in pins) and Version(metadata.version(n)) != here(DEV, n).version}
    assert drift == {}, "run `make install`"


# --- the versions UPSTREAM.md records facts for -------------------------------------------------------------------

def upstream_md_pins() -> dict[str, str]:
    """The `| `package` | `version` |` rows of UPSTREAM.md's "Python dependencies" section."""
    text = (ROOT / "components" / "data" / "UPSTREAM.md").read_text()
    section = text.split("## Python dependencies", 1)[1].split("\n## ", 1)[0]
    return {canonicalize_name(n): v for n, v in re.findall(r"^\| `([\w.-]+)` \| `([\w.]+)` \|", section, re.M)}


def test_upstream_md_names_the_pins_that_the_lock_holds():
    recorded = upstream_md_pins()
    constraints = {canonicalize_name(r.name): str(r.specifier).removeprefix("==")
                   for r in (Requirement(line) for line in (REQ / "upstream.txt").read_text().splitlines()
                             if line.strip() and not line.startswith("#"))}
    assert recorded == constraints
    assert {"pulumi", "pulumi-aws", "pulumi-eks", "pulumi-kubernetes", "pulumi-policy", "pydantic"} <= set(recorded)
    for name, version in recorded.items():
        assert [str(p.version) for p in DEV[name] + RUNTIME[name]] == [version, version], name


def test_the_lock_parser_rejects_an_unpinned_or_editable_line(tmp_path):
    for bad in ["pulumi>=3.272\n", "-e .\n", "pulumi==3.272.0 --hash=md5:abc\n"]:
        f = tmp_path / "x.lock"
        f.write_text(bad)
        with pytest.raises(AssertionError, match="not a pinned, hashed requirement"):
            parse_lock(f)
