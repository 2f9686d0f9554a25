"""vLLM's facts at the pinned release, read from its wheel: components/data/vllm_facts.json.

    .venv/bin/python tools/vllm_facts.py fetch    # pip download the pinned wheel into the cache, check its sha256
    .venv/bin/python tools/vllm_facts.py write    # (re)write components/data/vllm_facts.json from the cached wheel
    .venv/bin/python tools/vllm_facts.py check    # exit 1 when the JSON differs from what the wheel says

The wheel (about 340 MB) is cached outside the clone, in `$MODELSTACK_UPSTREAM_CACHE/vllm` (default
~/.cache/modelstack/upstream/vllm), and checked against WHEEL_SHA256 before anything is read from it. The facts are
read with `ast` from the release's own source (nothing is imported or run): the command-line flags the engine and
the OpenAI server define, the Prometheus metric names, the HTTP routes, the environment defaults and the GPU
capability thresholds modelstack relies on. Only facts (names and numbers) are written, no upstream text.
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upstream import cache_root  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "components" / "data" / "vllm_facts.json"
VERSION = "0.33.0"
WHEEL = f"vllm-{VERSION}-cp38-abi3-manylinux_2_28_x86_64.whl"
#: sha256 of the wheel PyPI serves for vllm 0.33.0 (pip download, 2026-12-03).
WHEEL_SHA256 = "4b6bdec4ab269990bf70d45a3c1e94c3760a27064513760193b26d6f0da883aa"

ARG_UTILS = "vllm/engine/arg_utils.py"
FRONTEND = "vllm/entrypoints/common/cli_args.py"
LOGGERS = "vllm/v1/metrics/loggers.py"
HEALTH = "vllm/entrypoints/serve/instrumentator/health.py"
METRICS = "vllm/entrypoints/serve/instrumentator/metrics.py"
ENVS = "vllm/envs.py"
CUDA = "vllm/platforms/cuda.py"
CACHE = "vllm/config/cache.py"
ENTRY_POINTS = f"vllm-{VERSION}.dist-info/entry_points.txt"


def wheel_path() -> Path:
    return cache_root() / "vllm" / WHEEL


def fetch() -> Path:
    """The verified wheel, downloaded with pip when it is not cached yet."""
    path = wheel_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"vllm=={VERSION}", "--no-deps", "--only-binary",
                        ":all:", "--platform", "manylinux_2_28_x86_64", "--python-version", "3.12", "-d",
                        str(path.parent), "--progress-bar", "off", "--disable-pip-version-check"], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{path}: sha256 {digest}, expected {WHEEL_SHA256}; delete it and fetch again")
    return path


def _literal_flags(tree: ast.AST) -> set[str]:
    """Every '--flag' string passed positionally to an add_argument call."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            out |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                    and a.value.startswith("--")}
    return out


def _dataclass_flags(tree: ast.AST, classes: tuple[str, ...]) -> set[str]:
    """The flags FrontendArgs.add_cli_args makes of its dataclass fields: --<field with '-' for '_'>."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in classes:
            out |= {f"--{s.target.id.replace('_', '-')}" for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    return out


def _metric_names(tree: ast.AST) -> set[str]:
    return {k.value.value for node in ast.walk(tree) if isinstance(node, ast.Call) for k in node.keywords
            if k.arg == "name" and isinstance(k.value, ast.Constant) and str(k.value.value).startswith("vllm:")}


def _strings(tree: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _env_default(tree: ast.AST, name: str) -> str:
    """The default in `os.environ.get(name, default)`."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get" and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == name):
            return node.args[1].value
    raise SystemExit(f"{ENVS}: no default for {name}")


def _capability(tree: ast.AST, function: str) -> int:
    """The first has_device_capability(N) inside `function`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "has_device_capability":
                    return call.args[0].value
    raise SystemExit(f"{CUDA}: no has_device_capability in {function}")


def _literal_alias(tree: ast.AST, name: str) -> list[str]:
    """The values of `name = Literal[...]`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == name for t in node.targets):
            sl = node.value.slice
            return [e.value for e in (sl.elts if isinstance(sl, ast.Tuple) else [sl])]
    raise SystemExit(f"{CACHE}: no {name}")


def facts(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as z:
        src = {p: z.read(p).decode() for p in (ARG_UTILS, FRONTEND, LOGGERS, HEALTH, METRICS, ENVS, CUDA, CACHE,
                                            ENTRY_POINTS)}
    tree = {p: ast.parse(t) for p, t in src.items() if p.endswith(".py")}
    scripts = []
    section = ""
    for line in src[ENTRY_POINTS].splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[console_scripts]" and "=" in line:
            scripts.append(line.split("=")[0].strip())
    routes = sorted(s for s in _strings(tree[HEALTH]) | _strings(tree[METRICS]) if s in ("/health", "/metrics"))
    return {
        "package": "vllm", "version": VERSION, "tag": f"v{VERSION}", "wheel": WHEEL, "sha256": WHEEL_SHA256,
        "sources": {"engine_flags": ARG_UTILS, "server_flags": f"{FRONTEND} (FrontendArgs, BaseFrontendArgs fields)",
                    "metrics": LOGGERS, "routes": f"{HEALTH}, {METRICS}", "env_defaults": ENVS,
                    "gpu_capability": CUDA, "console_scripts": ENTRY_POINTS,
                    "kv_cache_dtypes": f"{CACHE} (CacheDType)"},
        "engine_flags": sorted(_literal_flags(tree[ARG_UTILS])),
        "server_flags": sorted(_dataclass_flags(tree[FRONTEND], ("FrontendArgs", "BaseFrontendArgs"))),
        "metrics": sorted(_metric_names(tree[LOGGERS])),
        "routes": routes,
        "env_defaults": {"VLLM_ENGINE_READY_TIMEOUT_S": _env_default(tree[ENVS], "VLLM_ENGINE_READY_TIMEOUT_S")},
        "gpu_capability": {"bfloat16_min": _capability(tree[CUDA], "check_if_supports_dtype") / 10,
                           "fp8_min": _capability(tree[CUDA], "supports_fp8") / 10},
        "console_scripts": sorted(scripts),
        "kv_cache_dtypes": _literal_alias(tree[CACHE], "CacheDType"),
    }


def text(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "fetch":
        print(fetch())
        return 0
    doc = text(facts(fetch()))
    if cmd == "write":
        OUT.write_text(doc)
        print(f"wrote {OUT.relative_to(ROOT)}")
        return 0
    if cmd == "check":
        same = OUT.read_text() == doc
        print("vllm_facts.json matches the wheel" if same else "vllm_facts.json differs from the wheel: run write")
        return 0 if same else 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
