"""The layout shows the architecture: the Dagster wiring (claims_platform.orchestration) sits over
a Dagster-free core, and no import runs from the core up into it or in a circle.

Every import statement counts, those inside functions too: a function-level import hides a
dependency from a reader and from import-time failures, not from this test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "claims_platform"
WIRING = "orchestration"
# Dagster and its integrations; `dagster_pipes` (the standalone Pipes protocol the Glue script
# speaks, without Dagster) is not among them.
DAGSTER_DISTRIBUTIONS = ("dagster", "dagster_dbt", "dagster_aws")
# The entry points over both layers, and the one wiring module each may name.
ENTRY_POINTS = {
    # the code location `claims_platform.definitions:defs` (CONTRACT §1)
    "definitions": "orchestration.definitions",
    # `claims-platform replay` runs the replay job
    "cli": "orchestration.cli",
}


def _modules(package_dir: Path) -> dict[str, Path]:
    out = {}
    for path in package_dir.rglob("*.py"):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported name, line) of every import statement of the module, at any depth."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(package_dir: Path) -> dict[str, dict[str, int]]:
    """module → {module of the same package it imports: first line}; packages' __init__ files
    (which only document) are not targets, as importing a submodule runs them anyway."""
    modules = _modules(package_dir)
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for module, path in modules.items():
        for name, line in _imported(module, path):
            if not name.startswith(package_dir.name):
                continue
            target = _resolve(name, modules)
            if target and target != module and modules[target].name != "__init__.py":
                graph[module].setdefault(target, line)
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            target = next(edges, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def layering_violations(package_dir: Path) -> list[str]:
    """Each import of Dagster or of the wiring by a core module, as `module:line imports name`."""
    package = package_dir.name
    wiring = f"{package}.{WIRING}"
    found = []
    for module, path in sorted(_modules(package_dir).items()):
        if module == wiring or module.startswith(wiring + "."):
            continue
        entry_allows = ENTRY_POINTS.get(module.removeprefix(package + "."))
        for name, line in _imported(module, path):
            top = name.split(".")[0]
            if top in DAGSTER_DISTRIBUTIONS:
                found.append(f"{module}:{line} imports {name}")
            elif name == wiring or name.startswith(wiring + "."):
                allowed = f"{package}.{entry_allows}"
                if entry_allows is not None and (name == allowed or name.startswith(allowed + ".")):
                    continue
                found.append(f"{module}:{line} imports {name}")
    return found


def test_the_core_imports_neither_dagster_nor_the_wiring():
    assert layering_violations(PACKAGE_DIR) == []


def test_no_import_cycle_in_the_package():
    assert import_cycles(import_graph(PACKAGE_DIR)) == []


def test_the_checks_see_imports_hidden_in_functions(tmp_path: Path):
    """The checks themselves, on a package that breaks both rules only inside functions."""
    pkg = tmp_path / "pkg"
    (pkg / WIRING).mkdir(parents=True)
    (pkg / "core").mkdir()
    for init in (pkg, pkg / WIRING, pkg / "core"):
        (init / "__init__.py").write_text("")
    (pkg / WIRING / "assets.py").write_text("from pkg.core import a\n")
    (pkg / "core" / "a.py").write_text(
        "def f():\n    import dagster_dbt.core\n    from ..orchestration.assets import x\n"
    )
    (pkg / "core" / "b.py").write_text("def g():\n    from . import c\n")
    (pkg / "core" / "c.py").write_text("from pkg.core.b import g\nimport dagster_pipes\n")

    assert layering_violations(pkg) == [
        "pkg.core.a:2 imports dagster_dbt.core",
        "pkg.core.a:3 imports pkg.orchestration.assets",
        "pkg.core.a:3 imports pkg.orchestration.assets.x",
    ]
    assert sorted(import_cycles(import_graph(pkg))) == [
        ["pkg.core.a", "pkg.orchestration.assets"],
        ["pkg.core.b", "pkg.core.c"],
    ]


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_the_entry_points_exist(module: str):
    """An entry point that moved would leave its allowance behind, unnoticed."""
    modules = _modules(PACKAGE_DIR)
    assert f"claims_platform.{module}" in modules
    assert f"claims_platform.{ENTRY_POINTS[module]}" in modules
