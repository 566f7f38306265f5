"""The CI gate of tests/conftest.py: a skipped live test fails when CI is set; an xfail stays an xfail."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def test_ci_turns_live_skips_into_failures_but_keeps_expected_failures(tmp_path: Path) -> None:
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_gate_sample.py").write_text(
        "import pytest\n"
        "pytestmark = pytest.mark.live\n"
        "def test_skips():\n    pytest.skip('no bed')\n"
        "@pytest.mark.xfail(strict=True, reason='pending')\n"
        "def test_pending():\n    assert False\n"
        "def test_passes():\n    assert True\n"
    )
    env = {**os.environ, "CI": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "markers=live", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False,
    )
    assert "1 failed, 1 passed, 1 xfailed" in result.stdout, result.stdout
    assert "live test skipped in CI" in result.stdout
    env.pop("CI")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "markers=live", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env, check=False,
    )
    assert "1 passed, 1 skipped, 1 xfailed" in result.stdout, result.stdout
