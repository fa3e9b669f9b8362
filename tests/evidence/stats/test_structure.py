"""The layout of evidence/stats: numpy/scipy only, module-level imports, no cycles."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import evidence.stats

PACKAGE = Path(evidence.stats.__file__).resolve().parent
MODULES = sorted(path.stem for path in PACKAGE.glob("*.py"))


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{module}.py").read_text(), filename=f"{module}.py")


def _sibling_imports(module: str) -> set[str]:
    """The evidence.stats modules that ``module`` imports (relative or absolute)."""
    found: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 1:
                found.update(alias.name for alias in node.names)
            elif node.module and node.module.startswith("evidence.stats."):
                found.add(node.module.split(".")[2])
            elif node.module == "evidence.stats":
                found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("evidence.stats."):
                    found.add(alias.name.split(".")[2])
    return found & set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_imports_only_numpy_scipy_and_the_standard_library(module: str) -> None:
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots = {node.module.split(".")[0]}
        else:
            continue
        assert "django" not in roots, module
        assert "rest_framework" not in roots, module


@pytest.mark.parametrize("module", MODULES)
def test_every_import_is_at_module_level(module: str) -> None:
    tree = _tree(module)
    top_level = {id(node) for node in tree.body}
    nested = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in top_level
    ]
    assert nested == [], f"{module}.py imports inside a function or block at lines {nested}"


def test_the_modules_import_each_other_without_cycles() -> None:
    graph = {module: _sibling_imports(module) - {module} for module in MODULES}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as cycle:  # pragma: no cover - the failure message
        pytest.fail(f"import cycle in evidence/stats: {' -> '.join(cycle.args[1])}")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_says_what_lives_there(module: str) -> None:
    docstring = ast.get_docstring(_tree(module))
    assert docstring, f"{module}.py has no opening docstring"
