"""The benchmarks: parse, lookup, end-to-end detection, import; each beside its baseline.

Operations and baselines are benches/ops.py's table; inputs are
benches/make_inputs.py's (deterministic). Small operations (a lookup, a
dict.get) run BATCH times per measured call, through the same generated loop.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import ops
import pytest

pytestmark = pytest.mark.benchmark

BATCH = 1000


def _run(benchmark: Any, op: ops.Op, n: int) -> None:
    ops.loop(op, 1)  # warm-up outside the measurement: lazy imports, caches
    benchmark(ops.loop, op, n)


def _names(prefix: str) -> list[str]:
    return [name for name in ops.SPECS if name.startswith(prefix)]


@pytest.mark.parametrize("name", _names("parse.") + _names("baseline.json.loads."))
def test_parse(benchmark: Any, ratio: Callable[[str, str], None], name: str) -> None:
    spec = ops.SPECS[name]
    ratio(spec.group, "baseline" if spec.baseline is None else name)
    _run(benchmark, spec.make(ops.Context()), 1)


@pytest.mark.parametrize("name", _names("lookup.") + _names("baseline.dict.get."))
def test_lookup(benchmark: Any, ratio: Callable[[str, str], None], name: str) -> None:
    """BATCH lookups (or dict.get calls) per measured call."""
    spec = ops.SPECS[name]
    ratio(spec.group, "baseline" if spec.baseline is None else name)
    _run(benchmark, spec.make(ops.Context()), BATCH)


@pytest.mark.parametrize("name", ["detect.docker-100", "baseline.raw.docker-100"])
def test_detect(
    benchmark: Any, ratio: Callable[[str, str], None], daemon_socket: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dockspec.detect_containers() against a fake daemon on a real Unix socket, 100 containers."""
    monkeypatch.setenv("DOCKER_HOST", "unix://" + daemon_socket)
    spec = ops.SPECS[name]
    ratio(spec.group, "baseline" if spec.baseline is None else name)
    op = spec.make(ops.Context(socket=daemon_socket))
    result = op.fn(*op.args)
    assert len(result) > 0
    _run(benchmark, op, 1)


@pytest.mark.parametrize("code", ["import dockspec", "pass"], ids=["import-dockspec", "baseline-bare-interpreter"])
def test_import(benchmark: Any, ratio: Callable[[str, str], None], code: str) -> None:
    """`import dockspec` in a fresh interpreter (a subprocess), beside an interpreter that imports nothing."""
    ratio("import dockspec", "baseline" if code == "pass" else "import dockspec")
    argv = [sys.executable, "-c", code]
    benchmark(subprocess.run, argv, check=True)


def test_ops_exits_with_a_message_on_code_without_what_an_op_needs(tmp_path: Any) -> None:
    """The instruction gate runs this ops.py against older code: a refresh op on a dockspec whose
    parse_containers_json has no decoder= keyword exits 1 with a message, at once."""
    package = tmp_path / "dockspec"
    package.mkdir()
    (package / "__init__.py").write_text(
        "def parse_containers_json(body, shape=None):\n    return {}\n\n"
        "def lookup_published_container(port_map, address, protocol, allow_proxy_fallback=False):\n    return None\n"
    )
    result = subprocess.run([sys.executable, str(ops.HERE / "ops.py"), "parse.docker-10.fast", "1"],
                            capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(tmp_path)},
                            check=False)
    assert (1, "parse.docker-10.fast: this dockspec's parse_containers_json lacks decoder=\n") == (
        result.returncode, result.stderr)
