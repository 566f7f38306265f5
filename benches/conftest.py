"""pytest-codspeed benches: `pytest benches --codspeed`.

Every benchmarked operation comes from benches/ops.py with its baseline (the
floor it is a ratio against), measured in the same run: json.loads of the
same body, dict.get on the same map, one raw request + json.loads over the
same socket, an interpreter that imports nothing. In walltime mode (the
default outside CodSpeed's runner) the terminal summary prints each
operation's ratio to its baseline; under CodSpeed the baselines are
benchmarks of their own, side by side with the operations on the dashboard.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_inputs  # noqa: E402
from lean_daemon import start  # noqa: E402

# benchmark name (nodeid after "::") -> (group, role); role "baseline" or the operation's name
RATIO_GROUPS: dict[str, tuple[str, str]] = {}


@pytest.fixture
def ratio(request: pytest.FixtureRequest) -> Any:
    """ratio(group, role): file this benchmark under `group`; role "baseline" is the group's floor."""

    def register(group: str, role: str) -> None:
        RATIO_GROUPS[request.node.nodeid.split("::", 1)[1]] = (group, role)

    return register


@pytest.fixture(scope="session")
def daemon_socket() -> Iterator[str]:
    """A lean fake daemon in its own process, serving the 100-container Docker body."""
    with tempfile.TemporaryDirectory(prefix="dockspec-bench-") as tmp:
        path = str(Path(tmp) / "docker.sock")
        with start(path, make_inputs.body("docker", 100)):
            yield path


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    plugin = config.pluginmanager.get_plugin("codspeed_plugin")
    benchmarks = getattr(getattr(plugin, "instrument", None), "benchmarks", None)
    if not benchmarks or not RATIO_GROUPS:
        return
    by_name = {b.name: b.stats for b in benchmarks}
    groups: dict[str, dict[str, Any]] = {}
    for name, (group, role) in RATIO_GROUPS.items():
        if name in by_name:
            groups.setdefault(group, {})[role] = by_name[name]
    terminalreporter.write_sep("=", "ratios to the baseline measured in this run (median; min in brackets)")
    for group, roles in groups.items():
        base = roles.get("baseline")
        if base is None:
            continue
        for role, stats in roles.items():
            if role == "baseline":
                continue
            terminalreporter.write_line(
                f"{group:32} {role:24} {stats.median_ns / base.median_ns:6.2f}x"
                f"  ({stats.min_ns / base.min_ns:.2f}x)   baseline {base.median_ns / 1e3:10.2f} us"
            )
