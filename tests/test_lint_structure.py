"""The lint package's imports run one way: engine -> rule modules -> base, with no cycle.

Read from the source with ``ast``, so imports inside functions and under ``TYPE_CHECKING`` count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LINT = Path(__file__).resolve().parent.parent / "promptctl" / "lint"
PACKAGE = "promptctl.lint"
ENGINE = f"{PACKAGE}.engine"
MODULES = {f"{PACKAGE}.{p.stem}" if p.stem != "__init__" else PACKAGE: p for p in sorted(LINT.glob("*.py"))}
RULE_MODULES = ("rules", "datasets", "files", "formats", "models", "samples", "security", "template")


def imported(module: str, path: Path) -> set[str]:
    """The modules of promptctl.lint that ``module`` imports, anywhere in its file."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from . import security` imports the submodule; `from .rules import RULES` the module
            targets = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in MODULES and t != module}
    return found


GRAPH = {module: imported(module, path) for module, path in MODULES.items()}


def test_the_import_graph_is_read():
    # a lazy import (engine -> template, inside a method) and a TYPE_CHECKING one (security -> base)
    assert f"{PACKAGE}.template" in GRAPH[ENGINE]
    assert f"{PACKAGE}.base" in GRAPH[f"{PACKAGE}.security"]


@pytest.mark.parametrize("name", RULE_MODULES)
def test_no_rule_module_imports_the_engine(name):
    assert f"{PACKAGE}.{name}" in GRAPH, f"promptctl/lint/{name}.py is gone: update RULE_MODULES"
    assert ENGINE not in GRAPH[f"{PACKAGE}.{name}"], f"{name}.py imports the engine: import promptctl.lint.base instead"


def test_nothing_in_promptctl_lint_imports_the_engine():
    assert sorted(m for m, targets in GRAPH.items() if ENGINE in targets) == []


def test_there_is_no_import_cycle_in_promptctl_lint():
    state: dict[str, str] = {}  # module -> "open" while on the path, "done" after

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                return path + [module, target]
            if target not in state:
                cycle = visit(target, path + [module])
                if cycle is not None:
                    return cycle
        state[module] = "done"
        return None

    for module in sorted(GRAPH):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, "import cycle: " + " -> ".join(cycle[cycle.index(cycle[-1]):])


def test_base_needs_nothing_of_lint():
    assert GRAPH[f"{PACKAGE}.base"] == set()
