"""The package layout: layers import downwards only, no import cycle, one public API at the root."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folder -> installed package (pyproject's package-dir).
SOURCES = {"components": "modelstack", "policies": "modelstack.policies"}

# Bottom to top. A module may import its own package and anything in a lower layer, never a higher one.
LAYERS = [
    ["modelstack.data"],
    ["modelstack.render"],
    ["modelstack.capacity"],
    ["modelstack.config"],
    ["modelstack.planner"],
    ["modelstack.cluster", "modelstack.serving", "modelstack.policies", "modelstack.plan", "modelstack.ops"],
    ["modelstack.program"],
    ["modelstack.cli", "modelstack.__main__"],
]

PUBLIC = ["ModelAPI", "TrafficSplitter", "Cluster", "NodeGroup", "Network", "ClusterAutoscaler", "Karpenter", "PlatformAddons",
          "ClusterHandle"]


def _modules() -> dict[str, Path]:
    out = {}
    for folder, pkg in SOURCES.items():
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([pkg, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every modelstack module this one imports at run time (module level or inside functions)."""
    is_pkg = path.name == "__init__.py"
    package = module if is_pkg else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # annotations only, never executed
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    found.add(sub if sub in known else base)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {m for m in found if m in known and m != module}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, set(mods)) for m, p in mods.items()}


def _layer(module: str) -> int | None:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    return None


def _subpackage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_the_graph_was_read(graph):
    # Guards the walk itself: a parser that saw no imports would pass every check below.
    assert "modelstack.render.labels" in graph["modelstack.serving.model_api"] | graph["modelstack.render.manifests"]
    assert "modelstack.config.checks" in graph["modelstack.config.load"]
    assert len(graph) > 30


def test_no_import_cycle(graph):
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                dfs(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert cycles == []


def test_every_module_sits_in_a_layer(graph):
    assert [m for m in graph if m != "modelstack" and _layer(m) is None] == []


def test_imports_point_down_the_layers(graph):
    upward = [(m, n) for m, deps in graph.items() for n in deps
              if m != "modelstack" and _layer(n) is not None and _layer(n) > _layer(m)]
    assert upward == []


def test_same_layer_packages_stay_apart_except_through_the_handle(graph):
    # serving may not reach into the cluster's components, nor the cluster into serving.
    cross = [(m, n) for m, deps in graph.items() for n in deps
             if {_subpackage(m), _subpackage(n)} == {"cluster", "serving"}]
    assert cross == []


def test_at_most_six_modules_directly_in_components():
    top = sorted(p.name for p in (ROOT / "components").glob("*.py"))
    assert len(top) <= 6, top
    subpackages = [p.name for p in (ROOT / "components").iterdir() if (p / "__init__.py").exists()]
    assert len(subpackages) >= 4, subpackages


def test_public_api_from_the_installed_package():
    # A fresh interpreter, so nothing imported by other tests hides a lazy-import mistake.
    code = ("import modelstack, pulumi; "
            f"names = {PUBLIC!r}; "
            "objs = [getattr(modelstack, n) for n in names]; "
            "assert all(isinstance(o, type) and issubclass(o, pulumi.ComponentResource) for o in objs if o.__name__ != 'ClusterHandle'); "
            "assert set(names) <= set(modelstack.__all__); "
            "print(modelstack.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    import tomllib

    assert out.stdout.strip() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_pure_layers_do_not_load_the_cloud_sdks():
    # `modelstack.capacity` and `modelstack.config` are usable (and fast) without pulumi_aws / pulumi_eks.
    code = ("import sys, modelstack.capacity.optimizer, modelstack.config.load, modelstack.planner.capacity; "
            "print(sorted(m for m in ('pulumi_aws', 'pulumi_eks', 'pulumi_kubernetes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_unknown_public_name_is_an_attribute_error():
    import modelstack

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        modelstack.Nope  # noqa: B018
