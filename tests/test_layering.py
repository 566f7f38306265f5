"""The protocol core does no I/O: checked on the source, not just described."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "dockspec"
CORE = [
    "_http.py", "containers.py", "ports.py", "daemons.py", "endpoints.py", "podman.py", "hosts.py", "models.py",
    "contexts.py",
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
