"""Test configuration: the `live` and `root` markers must not be skipped when CI is set (an xfail stays an xfail)."""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, Any]:
    report = yield
    # An expected failure (xfail) is reported as skipped too, with `wasxfail`: it stays one.
    expected_failure = hasattr(report, "wasxfail")
    for marker in ("live", "root"):
        if report.skipped and not expected_failure and os.environ.get("CI") and item.get_closest_marker(marker):
            report.outcome = "failed"
            report.longrepr = f"{marker} test skipped in CI (CI is set): {report.longrepr}"
    return report
