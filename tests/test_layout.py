"""The shape of fer_core: calls go one way (no import cycle, counting imports inside functions), the product
never imports the lab or Streamlit, and one module reads the product's environment variables."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fer_core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, modules: set[str]) -> set[str]:
    """fer_core modules this file imports anywhere in it (a function's import counts too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            for alias in node.names:  # `from fer_core import jobs` imports the module fer_core.jobs
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (use fer_core.… so every import reads the same)")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in modules and m != "fer_core"}


@lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def test_no_import_cycle_inside_fer_core():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_product_never_imports_the_lab_or_streamlit():
    for name, path in _modules().items():
        source = path.read_text()
        assert "import streamlit" not in source, f"{name} imports streamlit"
        if name.startswith("fer_core.lab") or name == "fer_core.cli":
            continue  # the CLI's train, card and evaluate load the lab inside their functions
        assert not {m for m in _graph()[name] if m.startswith("fer_core.lab")}, f"{name} imports the lab"


def test_the_products_variables_are_read_in_settings_only():
    """FER_*, DATABASE_URL and BROKER_URL are read (and written) in fer_core/settings.py only."""
    variable = re.compile(r"""(os\.environ|getenv)\S*?["'](FER_|DATABASE_URL|BROKER_URL)""")
    root = PACKAGE.parent
    for path in [*PACKAGE.rglob("*.py"), *(root / "dashboard").rglob("*.py"), root / "migrations" / "env.py"]:
        if path == PACKAGE / "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not variable.search(line), f"{path.relative_to(root)}:{number} reads a variable: {line.strip()}"


def test_pages_stay_thin():
    """Pages call the service, the cached reads and the resources: no cv2, no SQL, no ORM, no storage."""
    forbidden = ("cv2", "sqlalchemy", "fer_core.storage")
    for path in (PACKAGE.parent / "dashboard" / "views").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            bad = [n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)]
            assert not bad, f"{path.name} imports {bad[0]}"
