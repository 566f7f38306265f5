"""Hostile suite: report the worst time and peak memory measured (docs/limits.md quotes them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.measure import BASELINE, LIMITS, RECORDS, Measured

XFAILED: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _warm_up() -> Iterator[None]:
    """Good detections first: lazy imports (msgspec, ipaddress) are not counted as a scenario's
    memory, and BASELINE gets what a detection of a good daemon costs."""
    from dockspec import detect_containers
    from tests.hostile.harness import SPEC, direct_env, good_daemon, table_env
    from tests.hostile.measure import BASELINE, measure

    daemon = good_daemon()
    try:
        detect_containers(env=direct_env(daemon.url), spec=SPEC, limits=LIMITS)
        with table_env(None, daemon.path) as (env, _):
            detect_containers(env=env, spec=SPEC, limits=LIMITS)
            BASELINE[0] = max(
                measure("baseline: a good daemon through the table", lambda: detect_containers(
                    env=env, spec=SPEC, limits=LIMITS)).peak
                for _ in range(3)
            )
    finally:
        daemon.close()
    yield


@pytest.fixture
def root_listener() -> Iterator[int]:
    """A TCP listener of this (root) test process, on 127.0.0.1: its port."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if hasattr(report, "wasxfail"):
        XFAILED.add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    everything = [r for r in RECORDS if r.test not in XFAILED and not r.attack]
    _attacks(terminalreporter, [r for r in RECORDS if r.attack])
    records = [r for r in everything if not r.default_limits]
    if not records:
        return
    slowest = max(records, key=lambda r: r.elapsed)
    alone = [r for r in records if not r.together] or records
    largest = max(alone, key=lambda r: r.peak)
    together = [r for r in records if r.together]
    terminalreporter.write_sep("-", "hostile daemons")
    terminalreporter.write_line(
        f"{len(records)} calls (outside xfail tests) with deadline {LIMITS.deadline} s, "
        f"body cap {LIMITS.max_body_bytes} B, header cap {LIMITS.max_header_bytes} B, binding cap {LIMITS.max_bindings}"
    )
    terminalreporter.write_line(f"worst time: {slowest.elapsed:.3f} s ({slowest.label})")
    terminalreporter.write_line(f"peak memory of one call: {largest.peak / 1024:.0f} KiB ({largest.label})")
    if together:
        both = max(together, key=lambda r: r.peak)
        terminalreporter.write_line(f"peak memory of calls run together: {both.peak / 1024:.0f} KiB ({both.label})")
    terminalreporter.write_line(f"baseline (a good daemon through the table): {BASELINE[0] / 1024:.0f} KiB")
    cli = [r for r in everything if r.default_limits]
    if cli:
        slowest, largest = max(cli, key=lambda r: r.elapsed), max(cli, key=lambda r: r.peak)
        terminalreporter.write_line(
            f"{len(cli)} calls under the default limits (the CLI's): worst time {slowest.elapsed:.3f} s "
            f"({slowest.label}), peak {largest.peak / 1024:.0f} KiB ({largest.label})"
        )


def _attacks(terminalreporter: pytest.TerminalReporter, records: list[Measured[object]]) -> None:
    """Root against the unprivileged user (test_root_vs_user): worst time and peak per attack, and the good calls'."""
    if not records:
        return
    good = [r for r in records if r.attack == "good"]
    bad = [r for r in records if r.attack != "good"]
    terminalreporter.write_sep("-", "root against an unprivileged user (each call in a child process)")
    by_attack: dict[str, list[Measured[object]]] = {}
    for record in bad:
        by_attack.setdefault(record.attack, []).append(record)
    for attack, calls in by_attack.items():
        slowest, largest = max(calls, key=lambda r: r.elapsed), max(calls, key=lambda r: r.peak)
        terminalreporter.write_line(
            f"{attack}: {len(calls)} calls, worst {slowest.elapsed:.3f} s ({slowest.label}), "
            f"peak {largest.peak / 1024:.0f} KiB ({largest.label})"
        )
    if bad:
        slowest, largest = max(bad, key=lambda r: r.elapsed), max(bad, key=lambda r: r.peak)
        terminalreporter.write_line(
            f"all {len(bad)} attack calls: worst time {slowest.elapsed:.3f} s ({slowest.label}), "
            f"peak memory {largest.peak / 1024:.0f} KiB ({largest.label})"
        )
    for record in good:
        terminalreporter.write_line(f"{record.label}: {record.elapsed:.3f} s, peak {record.peak / 1024:.0f} KiB")
