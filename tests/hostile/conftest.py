"""Hostile suite: report the worst time and peak memory measured (docs/limits.md quotes them)."""

from __future__ import annotations

import pytest

from tests.hostile.measure import LIMITS, RECORDS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RECORDS:
        return
    slowest = max(RECORDS, key=lambda r: r.elapsed)
    largest = max(RECORDS, key=lambda r: r.peak)
    terminalreporter.write_sep("-", "hostile daemons")
    terminalreporter.write_line(
        f"{len(RECORDS)} calls with deadline {LIMITS.deadline} s, body cap {LIMITS.max_body_bytes} B, "
        f"header cap {LIMITS.max_header_bytes} B, binding cap {LIMITS.max_bindings}"
    )
    terminalreporter.write_line(f"worst time: {slowest.elapsed:.3f} s ({slowest.label})")
    terminalreporter.write_line(f"peak memory: {largest.peak / 1024:.0f} KiB ({largest.label})")
