"""The floors of ARCHITECTURE.md: every import (lazy ones included) points down, and none forms a cycle.

The imports are read from the source with :mod:`ast` (every ``import`` statement anywhere in a
module, inside functions too), so an import hidden in a function body is checked like a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Floor of each top-level package, from the ground up (ARCHITECTURE.md shows the same picture).
#: A module may import its own package and lower floors only. ``tools`` and ``scripts`` stand
#: apart on the top: nothing of the product imports them.
FLOORS: dict[str, int] = {
    "core": 0,
    "data": 1,
    "models": 2,
    "features": 3,
    "benchmark": 4,
    "reports": 5,
    "predict": 5,
    "cli": 6,
    "tools": 7,
    "scripts": 8,
}


def project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the floors."""
    modules = {}
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules imported anywhere in ``path`` (module ``name``), resolved to the longest known name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(path, name, known) for name, path in modules.items()}


def floor(module: str) -> int:
    return FLOORS[module.split(".")[0]]


def test_every_top_level_package_has_a_floor():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(FLOORS), f"give {sorted(packages - set(FLOORS))} a floor in ARCHITECTURE.md and here"


def test_imports_point_down(graph):
    wrong = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                   if a.split(".")[0] != b.split(".")[0] and floor(b) >= floor(a))
    assert not wrong, "imports from a lower floor to a higher one (or across one floor):\n" + "\n".join(wrong)


def test_nothing_imports_the_tools(graph):
    wrong = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                   if floor(b) == FLOORS["tools"] and floor(a) < FLOORS["tools"])
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle(graph):
    """Tarjan's strongly connected components over the module graph: every component is one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_walker_sees_lazy_and_relative_imports(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from data.scut import X\n    import core.errors\nfrom . import sibling\n")
    known = {"data.scut", "core.errors", "reports.sibling", "reports.mod"}
    assert imports_of(src, "reports.mod", known) == {"data.scut", "core.errors", "reports.sibling"}


def test_architecture_md_names_every_floor():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [p for p in FLOORS if f"{p}/" not in text]
    assert not missing, f"ARCHITECTURE.md does not show {missing}"
