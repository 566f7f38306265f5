"""Layering, checked on the source, not just described.

The protocol core does no I/O; no module of src/dockspec is in an import
cycle (runtime imports at any depth count, those under `if TYPE_CHECKING:`
do not); dockspec._io imports only itself and the pure layers below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dockspec"
CORE = [
    "_http.py", "containers.py", "ports.py", "daemons.py", "endpoints.py", "podman.py", "hosts.py", "models.py",
    "contexts.py", "addresses.py", "cgroups.py", "events.py",
]
FORBIDDEN_MODULES = {"socket", "ssl", "threading", "subprocess", "time", "selectors", "asyncio", "dockspec._io"}
FORBIDDEN_CALLS = {"open", "getenv"}


@pytest.mark.parametrize("name", CORE)
def test_core_module_does_no_io(name: str) -> None:
    tree = ast.parse((SRC / name).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert alias.name.split(".")[0] not in FORBIDDEN_MODULES, f"{name} imports {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert (node.module not in FORBIDDEN_MODULES and not node.module.startswith("dockspec._io")) or (
                name == "podman.py" and node.module == "dockspec._io.podman_fs"
            ), f"{name} imports {node.module}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{name} calls {node.func.id}()"
        elif (isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)
              and node.value.id == "os"):
            raise AssertionError(f"{name} reads os.environ")


# ------------------------------------------------------------------ the import graph

PACKAGE = "dockspec"
# What dockspec._io may import outside itself: the pure bottom layers.
IO_MAY_IMPORT = {
    "dockspec.errors",
    "dockspec.models",
    "dockspec._http",
    "dockspec.spec",
    "dockspec.addresses",
    "dockspec._generated",
    "dockspec._generated.models",
    "dockspec._generated.tables",
    "dockspec._generated.wire",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement at any depth (functions too), except under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    """dockspec module -> the dockspec modules it imports by name.

    `from dockspec.x import y` is an edge to dockspec.x.y when that is a
    module, else to dockspec.x. The parent packages Python runs first
    (dockspec/__init__.py for any dockspec.x) are not edges: every module
    would then sit in one cycle with the package, and the package's own
    imports are checked as its edges. import_module() by name is not seen.
    """
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            edges.update(t for t in targets if t in files and t != name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of more than one module, as one cycle through it (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_shortest_cycle(graph, group) for group in groups]


def _shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest cycle from the group's first module back to itself (breadth first, inside the group)."""
    start = min(group)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [*reversed(path), start]
                if nxt not in parents:
                    parents[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in {group}")


def test_the_graph_sees_imports_inside_functions_and_not_under_type_checking() -> None:
    graph = import_graph()
    assert "dockspec._io.tls" in graph["dockspec._io.transport"]  # imported inside open_channel
    assert "dockspec.detect" not in graph["dockspec"]  # only under TYPE_CHECKING (and by name at first use)
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    """No module of src/dockspec imports, at run time, a module that imports it back (directly or not).

    Runtime imports count at any depth, inside functions too; imports under
    `if TYPE_CHECKING:` never run and do not count.
    """
    cycles = import_cycles(import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_io_imports_only_the_layers_below() -> None:
    """dockspec._io (sockets, files, subprocesses) depends only downward: on itself and IO_MAY_IMPORT."""
    graph = import_graph()
    wrong = {
        f"{name} imports {target}"
        for name, targets in graph.items()
        if name.startswith("dockspec._io")
        for target in targets
        if not target.startswith("dockspec._io") and target not in IO_MAY_IMPORT
    }
    assert not wrong, sorted(wrong)
    below = {target for name in IO_MAY_IMPORT for target in graph.get(name, set())}
    assert below <= IO_MAY_IMPORT, f"a module _io may import reaches further up: {sorted(below - IO_MAY_IMPORT)}"
