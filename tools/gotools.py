"""Go tools the tests run, built from their upstream Go modules at pinned versions (promtool, amtool).

Each tool is built from the module proxy (`$GOPROXY`) in a wrapper module that requires the upstream module at the
pinned version and repeats its `replace`/`exclude` directives (the Go command refuses `go install pkg@version` of a
module whose go.mod has replace directives, as Prometheus's has); `go get` checks every module against the Go
checksum database. Binaries, `GOMODCACHE` and `GOCACHE` live in `${MODELSTACK_E2E_CACHE:-~/.cache/modelstack-e2e}`
(the cache e2e/build.sh shares), outside the clone; a tool whose binary for its version exists is reused.

    .venv/bin/python tools/gotools.py build [TOOL ...]   # build (or reuse); print each binary's path

Standard library only. Used by `make test` (`make gotools`) and the tests (tests/render/test_alerts.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

BUILD_TIMEOUT_S = 3600


class Tool(NamedTuple):
    module: str
    version: str
    package: str
    """The main package inside the module."""
    version_ldflags: str = ""
    """-X flags that stamp the version as upstream's release build does ({v} is the version without the module's
    `v0.` prefix mapping)."""


#: Prometheus 3.x releases are Go module versions v0.3MM.P (server v3.14.0 = module v0.314.0, the chart pin's app).
#: Alertmanager v0.34.0 is the prometheus chart's alertmanager subchart 1.42.0 app version.
TOOLS: dict[str, Tool] = {
    "promtool": Tool("github.com/prometheus/prometheus", "v0.314.0", "cmd/promtool",
                     "-X github.com/prometheus/common/version.Version=3.14.0"),
    "amtool": Tool("github.com/prometheus/alertmanager", "v0.34.0", "cmd/amtool",
                   "-X github.com/prometheus/common/version.Version=0.34.0"),
}


class BuildError(RuntimeError):
    pass


def cache() -> Path:
    return Path(os.environ.get("MODELSTACK_E2E_CACHE") or Path.home() / ".cache" / "modelstack-e2e").expanduser()


def binary(name: str) -> Path:
    t = TOOLS[name]
    return cache() / "bin" / f"{name}-{t.version}" / name


def _go_env() -> dict[str, str]:
    c = cache()
    return {**os.environ, "GOMODCACHE": str(c / "gomod"), "GOCACHE": str(c / "gocache"), "GOFLAGS": "-mod=mod",
            "CGO_ENABLED": "0"}


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except FileNotFoundError:
        raise BuildError(f"{cmd[0]} not found: Go 1.26 is needed to build the test tools") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{' '.join(cmd)} did not finish in {BUILD_TIMEOUT_S} s") from None
    if p.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")


def directives(gomod: str) -> str:
    """The `replace` and `exclude` directives of a go.mod (single lines and blocks), to repeat in a wrapper."""
    out, block = [], None
    for line in gomod.splitlines():
        s = line.split("//")[0].rstrip()
        if block is not None:
            out.append(line)
            if s.strip() == ")":
                block = None
            continue
        if re.match(r"^(replace|exclude)\s*\($", s.strip()):
            block = s
            out.append(line)
        elif re.match(r"^(replace|exclude)\s+\S", s.strip()):
            out.append(line)
    return "\n".join(out) + "\n"


def build(name: str) -> Path:
    """The tool's binary, built on first use."""
    t = TOOLS[name]
    out = binary(name)
    if out.is_file() and os.access(out, os.X_OK):
        return out
    env = _go_env()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"modelstack-{name}-") as d:
        wd = Path(d)
        (wd / "go.mod").write_text("module modelstack.invalid/gotools\n\ngo 1.25\n")
        _run(["go", "mod", "download", "-json", f"{t.module}@{t.version}"], wd, env)
        escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), t.module)
        upstream_mod = Path(env["GOMODCACHE"]) / "cache" / "download" / escaped / "@v" / f"{t.version}.mod"
        with (wd / "go.mod").open("a") as f:
            f.write("\n" + directives(upstream_mod.read_text()))
        _run(["go", "get", f"{t.module}/{t.package}@{t.version}"], wd, env)
        out.parent.mkdir(parents=True, exist_ok=True)
        # A name of this build's own: two builds at once (CI jobs, test runs of two checkouts sharing the cache)
        # each rename their own finished binary over `out` (atomic, the same bytes), never the other's.
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        try:
            _run(["go", "build", "-trimpath", "-ldflags", f"-s -w {t.version_ldflags}", "-o", str(tmp),
                  f"{t.module}/{t.package}"], wd, env)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
    (out.parent / "build-seconds").write_text(f"{time.time() - started:.0f}\n")
    return out


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "build":
        print(__doc__.strip().splitlines()[-3].strip(), file=sys.stderr)
        return 2
    try:
        for name in argv[1:] or list(TOOLS):
            print(build(name))
    except (BuildError, KeyError) as e:
        print(f"gotools: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
