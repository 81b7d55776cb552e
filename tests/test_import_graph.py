"""The packages' parts import one another without cycles: a cycle makes the import order matter and hides
which part depends on which. A part is a module, a subpackage's ``__init__`` (``ocr_task.engines``: the
engines' registry), or the subpackage's modules taken together (``ocr_task.engines.*``): a module that imports
from an engine while an engine imports from it is a cycle too. Imports inside functions (made
late on purpose, to keep an optional library out) are not counted; those under ``TYPE_CHECKING`` are."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = {"ocr_task": ROOT / "ocr_task", "ocr_pipeline": ROOT / "plugins" / "ocr_pipeline"}


def _module_name(package: str, base: Path, path: Path) -> str:
    parts = [package, *path.relative_to(base).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Modules named by the imports outside functions."""
    found = []
    for node in tree.body:
        for inner in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(inner, ast.Import):
                found += [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                found += [inner.module] + [f"{inner.module}.{alias.name}" for alias in inner.names]
    return found


def _part(module: str) -> str:
    """The module's part: itself, or its subpackage's modules (``ocr_task.engines.auto`` → ``ocr_task.engines.*``)."""
    names = module.split(".")
    if len(names) <= 2:
        return module
    return ".".join(names[:2]) + ".*"


def import_graph(package: str) -> nx.DiGraph:
    """Which part of ``package`` imports which."""
    base = PACKAGES[package]
    modules = {_module_name(package, base, p): p for p in base.rglob("*.py") if "migrations" not in p.parts}
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(_part(name))
        for target in _module_level_imports(ast.parse(path.read_text())):
            if target in modules and _part(target) != _part(name) and target != package:
                graph.add_edge(_part(name), _part(target))
    return graph


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_imports_itself_round_a_cycle(package):
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph(package)) if len(c) > 1]
    assert cycles == []


def test_the_graph_sees_the_imports_it_checks():
    """The walk finds real edges, type-only ones included: the pipeline loads the engines, the engines read
    the settings, the settings check engine names; the catalog step writes catalog rows."""
    graph = import_graph("ocr_task")
    assert graph.has_edge("ocr_task.pipeline", "ocr_task.engines.*")
    assert graph.has_edge("ocr_task.engines.*", "ocr_task.config")
    assert graph.has_edge("ocr_task.config", "ocr_task.engines")
    assert import_graph("ocr_pipeline").has_edge("ocr_pipeline.tasks", "ocr_pipeline.catalog.*")
