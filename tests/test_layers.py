"""The layers of nasiam, and the check that no import runs upward or in a circle.

Each unit (a subpackage or a top-level module) may import its own modules and those of the
layers below it, never a layer above it nor another unit of its own layer, not even inside a
function. Below, bottom first:

* base: helpers every layer may use, importing nothing of nasiam; above them the library
  API's argument checks (`nasiam._arguments`, whose messages use the errors' `shown`).
* the core, PyTorch only: space < head < presets, search < frameworks. The search
  (`Architect`) drives any model with `arch_parameters`, `encode` and `head_loss`, and owns
  that protocol's `Encoded`; the frameworks implement it, so they sit above the search.
* what the core is used with: data, backbones (timm; a run's backbone files), run directories
  (`nasiam.rundir`: read by integrations, compare and the runner, timm-free; a run's heads to
  the Hub) < eval < config.
* the ways in: integrations (no runner, no timm) < runner < compare < cli, the package
  itself (`import nasiam`) < __main__.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import nasiam

LAYERS: list[set[str]] = [
    {"nasiam._io", "nasiam._progress", "nasiam._version", "nasiam._registry", "nasiam._compat",
     "nasiam._distributed", "nasiam._folders", "nasiam.errors"},
    {"nasiam._arguments"},
    {"nasiam.space"},
    {"nasiam.head"},
    {"nasiam.presets", "nasiam.search"},
    {"nasiam.frameworks"},
    {"nasiam.data", "nasiam.backbones", "nasiam.rundir"},
    {"nasiam.eval"},
    {"nasiam.config"},
    {"nasiam.integrations"},
    {"nasiam.runner"},
    {"nasiam.compare"},
    {"nasiam.cli", "nasiam"},
    {"nasiam.__main__"},
]
CORE = {"nasiam.space", "nasiam.head", "nasiam.presets", "nasiam.search", "nasiam.frameworks"}


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Module name -> file, for every module of `package` (whose directory is `root`)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(modules: dict[str, Path], package: str) -> dict[str, set[tuple[str, int]]]:
    """Module -> the modules of `package` it imports (anywhere in the file) with line numbers;
    `from pkg import submodule` counts as importing the submodule."""
    graph: dict[str, set[tuple[str, int]]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[:len(here.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            found |= {(t, node.lineno) for t in targets if t == package or t.startswith(package + ".")}
        graph[name] = found
    return graph


def private_imports(modules: dict[str, Path], layers: list[set[str]]) -> list[str]:
    """`from other_unit import _name`: another unit's private names (a module named `_x` is a
    unit's private module only inside a unit: nasiam._io is a unit of its own)."""
    problems = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                target = unit_of(node.module, layers)
                if target is None or target == unit_of(name, layers):
                    continue
                hidden = [a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")]
                if hidden or any(part.startswith("_") for part in node.module[len(target[1]):].split(".")):
                    problems.append(f"{name}:{node.lineno} imports {', '.join(hidden) or node.module} "
                                    f"from {node.module}")
    return problems


def unit_of(module: str, layers: list[set[str]]) -> tuple[int, str] | None:
    """(layer index, unit) of `module`: the longest unit name that is it or a package above it."""
    best = None
    for index, units in enumerate(layers):
        for unit in units:
            if (module == unit or (module.startswith(unit + ".") and "." in unit)) and (
                    best is None or len(unit) > len(best[1])):
                best = (index, unit)
    return best


def upward_imports(graph: dict[str, set[tuple[str, int]]], layers: list[set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        mine = unit_of(module, layers)
        if mine is None:
            problems.append(f"{module} is in no layer: add it to LAYERS")
            continue
        for target, line in sorted(targets):
            theirs = unit_of(target, layers)
            if theirs is None or theirs[1] == mine[1] or theirs[0] < mine[0]:
                continue
            problems.append(f"{module}:{line} imports {target} ({theirs[1]}, layer {theirs[0]}) from layer {mine[0]}")
    return problems


def circles(graph: dict[str, set[tuple[str, int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    edges = {m: {t for t, _ in targets if t in graph and t != m} for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


ROOT = Path(nasiam.__file__).parent
MODULES = module_files(ROOT, "nasiam")
GRAPH = imports(MODULES, "nasiam")


def test_no_import_runs_upward():
    assert upward_imports(GRAPH, LAYERS) == []


def test_no_modules_import_each_other():
    assert circles(GRAPH) == []


def test_no_unit_imports_another_units_private_names():
    assert private_imports(MODULES, LAYERS) == []


def test_every_layer_unit_exists_and_the_core_is_at_the_bottom():
    for units in LAYERS:
        for unit in units:
            assert unit in GRAPH, f"LAYERS names {unit}, which is no module"
    core = [unit_of(u, LAYERS)[0] for u in CORE]
    rest = [unit_of(m, LAYERS)[0] for m in GRAPH if unit_of(m, LAYERS)[1] not in CORE and not m.startswith(
        ("nasiam._", "nasiam.errors"))]
    assert max(core) < min(rest)


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


@pytest.mark.parametrize("line", ["from pkg.top import run", "import pkg.top", "from ..top import run",
                                  "from pkg import top"])
def test_the_check_catches_an_upward_import_even_inside_a_function(tmp_path, line):
    root = write_package(tmp_path, {"__init__.py": "", "top.py": "from pkg.core import x\n", "core/__init__.py": "",
                                    "core/x.py": f"def f():\n    {line}\n"})
    graph = imports(module_files(root, "pkg"), "pkg")
    problems = upward_imports(graph, [{"pkg.core"}, {"pkg.top", "pkg"}])
    assert problems == ["pkg.core.x:2 imports pkg.top (pkg.top, layer 1) from layer 0"]
    assert circles(graph) == [["pkg.core.x", "pkg.top"]]


def test_the_check_catches_peers_private_names_and_modules_in_no_layer(tmp_path):
    root = write_package(tmp_path, {"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "", "c.py": "",
                                    "d/__init__.py": "", "d/_x.py": "", "e.py": "from pkg.b import _y\nfrom pkg.d._x import z\n"})
    layers = [{"pkg.a", "pkg.b"}, {"pkg.d"}, {"pkg.e"}, {"pkg"}]
    problems = upward_imports(imports(module_files(root, "pkg"), "pkg"), layers)
    assert problems == ["pkg.a:1 imports pkg.b (pkg.b, layer 0) from layer 0", "pkg.c is in no layer: add it to LAYERS"]
    assert private_imports(module_files(root, "pkg"), layers) == ["pkg.e:1 imports _y from pkg.b",
                                                                  "pkg.e:2 imports pkg.d._x from pkg.d._x"]


def test_the_package_imports_no_torch_until_a_name_is_used():
    """`import nasiam` loads no torch, so the command line's entry point guards the seconds its
    import takes (#33 probe 18, P1); the public names are still there, on first use."""
    import subprocess
    import sys

    code = ("import sys, nasiam\n"
            "assert 'torch' not in sys.modules, 'import nasiam loaded torch'\n"
            "assert callable(nasiam.space.register_activation) and nasiam.head.DirectPredLinear\n"   # Q2
            "from nasiam import NASHead, Genotype\n"
            "assert nasiam.SearchableHead.__module__.startswith('nasiam.head') and 'torch' in sys.modules\n"
            "assert set(nasiam.__all__) <= set(dir(nasiam))\n"
            # its own imports are not its names (probe 19, Q17); its submodules still are (Q2)
            "assert not {'importlib', 'annotations', 'TYPE_CHECKING', '_EXPORTS'} & set(dir(nasiam)), dir(nasiam)\n"
            "assert not hasattr(nasiam, 'importlib') and not hasattr(nasiam, 'x.y')\n"
            "try:\n    nasiam.NoSuchName\nexcept AttributeError as e:\n    assert 'NoSuchName' in str(e)\n"
            "else:\n    raise SystemExit('no AttributeError')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(nasiam.__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
