"""Hostile suite: report the worst time and peak memory measured (docs/limits.md quotes them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.measure import LIMITS, RECORDS

XFAILED: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _warm_up() -> Iterator[None]:
    """One good detection first, so lazy imports (msgspec, ipaddress) are not counted as a scenario's memory."""
    from dockspec import detect_containers
    from tests.hostile.harness import SPEC, direct_env, good_daemon

    daemon = good_daemon()
    try:
        detect_containers(env=direct_env(daemon.url), spec=SPEC, limits=LIMITS)
    finally:
        daemon.close()
    yield


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if hasattr(report, "wasxfail"):
        XFAILED.add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    records = [r for r in RECORDS if r.test not in XFAILED]
    if not records:
        return
    slowest = max(records, key=lambda r: r.elapsed)
    largest = max(records, key=lambda r: r.peak)
    terminalreporter.write_sep("-", "hostile daemons")
    terminalreporter.write_line(
        f"{len(records)} calls (outside xfail tests) with deadline {LIMITS.deadline} s, "
        f"body cap {LIMITS.max_body_bytes} B, header cap {LIMITS.max_header_bytes} B, binding cap {LIMITS.max_bindings}"
    )
    terminalreporter.write_line(f"worst time: {slowest.elapsed:.3f} s ({slowest.label})")
    terminalreporter.write_line(f"peak memory: {largest.peak / 1024:.0f} KiB ({largest.label})")
