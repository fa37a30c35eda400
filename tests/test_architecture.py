"""The shape of the code, checked: imports flow one way and no room grows too big to read.

model <- connectors <- api; model <- analysis <- report/output <- api <- cli. A cycle between
two files, or a lower room importing a higher one, fails here before it spreads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pmrecon", "connectors")
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 100

# Room -> rooms it must never import (prefix match on dotted module names).
FORBIDDEN = {
    "pmrecon.model": (
        "connectors",
        "pmrecon.analysis",
        "pmrecon.report",
        "pmrecon.output",
        "pmrecon.api",
        "pmrecon.cli",
        "pmrecon.scanning",
    ),
    "pmrecon.analysis": (
        "connectors",
        "pmrecon.report",
        "pmrecon.output",
        "pmrecon.api",
        "pmrecon.cli",
        "pmrecon.scanning",
    ),
    "connectors": (
        "pmrecon.analysis",
        "pmrecon.report",
        "pmrecon.output",
        "pmrecon.api",
        "pmrecon.cli",
        "pmrecon.scanning",
    ),
    "pmrecon.report": ("connectors", "pmrecon.api", "pmrecon.cli", "pmrecon.scanning"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module a dotted import name lands in (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, less the bodies of ``if TYPE_CHECKING:`` (read by mypy, never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
            yield from (n for orelse in child.orelse for n in _runtime_nodes_and_self(orelse))
            continue
        yield child
        yield from _runtime_nodes(child)


def _runtime_nodes_and_self(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    yield from _runtime_nodes(node)


def _imports(module: str, path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name)
                if target:
                    yield target
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                target = _resolve(f"{prefix}.{alias.name}") or _resolve(prefix)
                if target:
                    yield target


GRAPH = {
    module: {target for target in _imports(module, path) if target != module}
    for module, path in MODULES.items()
}


def _in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def test_the_graph_sees_the_rooms() -> None:
    assert "pmrecon.model" in MODULES and "pmrecon.cli" in MODULES
    assert any(
        _in_room(m, "pmrecon.analysis")
        for m in GRAPH["pmrecon.api"] | {t for m in GRAPH for t in GRAPH[m]}
    )
    assert "pmrecon.model" in GRAPH["pmrecon.api"] or any(
        "pmrecon.model" in GRAPH[m] for m in MODULES if _in_room(m, "pmrecon.analysis")
    )


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_lower_rooms_do_not_import_higher_ones(room: str) -> None:
    offences = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _in_room(module, room)
        for target in targets
        if any(_in_room(target, banned) for banned in FORBIDDEN[room])
    )
    assert offences == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def _without_parent_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exporting its own submodules is how a package is built, not a
    # cycle between rooms: drop the edge from a submodule up to its own package.
    return {
        module: {t for t in targets if not module.startswith(t + ".")}
        for module, targets in graph.items()
    }


def test_no_import_cycle() -> None:
    assert _strongly_connected(_without_parent_edges(GRAPH)) == []


def test_cycle_detection_bites() -> None:
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [
        ["a", "b", "c"]
    ]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_and_functions_are_small(module: str) -> None:
    path = MODULES[module]
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path} has over {MAX_MODULE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
