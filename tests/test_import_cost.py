"""`import dockspec` stays cheap (issue 2): transports, detection and I/O helpers load at first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import dockspec

# Modules `import dockspec` must not load: parse and lookup need none of them.
DEFERRED = {
    "socket", "selectors", "ssl", "pathlib", "json", "ipaddress", "h11", "msgspec", "yaml", "cattrs",
    "dockspec.detect", "dockspec._io", "dockspec._http", "dockspec.podman", "dockspec.cli",
    "dockspec._generated.models", "dockspec._generated.tables", "dockspec._generated.wire", "dockspec.hosts",
    "dockspec.aio", "dockspec._io.aio_transport", "asyncio",
}


def test_import_dockspec_loads_no_deferred_module() -> None:
    """A fresh interpreter's `import dockspec` leaves every module of DEFERRED unloaded."""
    code = "import sys, dockspec; print('\\n'.join(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert set() == DEFERRED & set(loaded)


def test_builtin_spec_loads_at_first_use_once() -> None:
    code = (
        "import sys, dockspec\n"
        "assert 'dockspec._generated.tables' not in sys.modules\n"
        "spec = dockspec.builtin_spec()\n"
        "assert 'dockspec._generated.tables' in sys.modules and dockspec.builtin_spec() is spec\n"
        "assert isinstance(spec, dockspec.Spec)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_names_are_the_defining_modules_objects() -> None:
    """Every lazily imported public name is the same object as in the module that defines it."""
    for name, module_name in dockspec._LAZY.items():
        assert name in dockspec.__all__
        assert getattr(importlib.import_module(module_name), name) is getattr(dockspec, name)


def test_every_public_name_imports() -> None:
    """`from dockspec import X` works for every name in __all__, and dir() lists them."""
    namespace: dict[str, object] = {}
    exec("from dockspec import *", namespace)
    assert set(dockspec.__all__) <= set(namespace)
    assert sorted(dockspec.__all__) == dir(dockspec)
