"""The shape of the package, as docs/architecture.md draws it: checked, not hoped for.

Imports are read from the source (every ``import``, including those inside functions and
under ``TYPE_CHECKING``: a deferred import is still an arrow), so a cycle cannot hide
behind a late import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "reconcile"

#: The stages of the data flow. Each takes its own configuration; none may reach up into
#: the layer that composes them (the job spec, the CLI, the scheduled run, backfill, demo).
STAGES = ("source", "archive", "expected", "check", "egress", "alerts", "engines")
COMPOSERS = ("job", "cli", "schedule", "backfill", "demo", "docgen")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """Every reconcile module ``name`` imports (the root package itself excluded)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                yield candidate if candidate in MODULES else module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def graph() -> dict[str, set[str]]:
    """Module -> the reconcile modules it imports."""
    return {
        name: {m for m in _imports(name, path) if m in MODULES and m not in (name, "reconcile")}
        for name, path in MODULES.items()
    }


def unit(module: str) -> str:
    """The top-level unit a module belongs to: ``reconcile.archive.run`` -> ``archive``."""
    return module.split(".")[1] if module.count(".") else module


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member, or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_a_cycle_and_a_deferred_import() -> None:
    # The rules below are only as good as this reader of imports.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert "reconcile.source.elastic" in graph()["reconcile.archive.run"] | {
        m for d in graph()["reconcile.archive.run"] for m in graph()[d]
    }
    assert len(MODULES) > 50


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_no_import_cycle_between_packages() -> None:
    units: dict[str, set[str]] = {}
    for module, deps in graph().items():
        units.setdefault(unit(module), set()).update(
            unit(d) for d in deps if unit(d) != unit(module)
        )
    assert cycles(units) == []


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_does_not_import_the_layer_that_composes_it(stage: str) -> None:
    reaching_up = {
        module: sorted(d for d in deps if unit(d) in COMPOSERS)
        for module, deps in graph().items()
        if unit(module) == stage
    }
    assert {m: d for m, d in reaching_up.items() if d} == {}


def test_production_code_does_not_import_the_demo() -> None:
    users = {
        module
        for module, deps in graph().items()
        if unit(module) not in ("demo", "cli") and any(unit(d) == "demo" for d in deps)
    }
    assert users == set()


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert {n: s for n, s in sizes.items() if s > MAX_LINES} == {}
