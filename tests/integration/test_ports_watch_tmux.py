"""`dockspec ports --watch` in a real terminal: tmux runs it, a container comes and goes, capture-pane shows it.

Live (it starts a container on the Debian 12 bed's Docker): run under the lock.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
PORT = 19961
CMD = 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=10).stdout


def wait_pane(session: str, ok: Callable[[str], bool], timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    while True:
        pane = tmux("capture-pane", "-p", "-t", session)
        if ok(pane):
            return pane
        if time.monotonic() > end:
            raise AssertionError(f"the pane never showed what was expected:\n{pane}")
        time.sleep(0.2)


def test_ports_watch_redraws_in_place_in_tmux() -> None:
    if shutil.which("tmux") is None or not Path("/var/run/docker.sock").exists():
        pytest.skip("needs tmux and the Debian 12 bed's Docker")
    docker = ["docker", "-H", "unix:///var/run/docker.sock"]
    name = f"dstmux-{os.getpid()}"
    session = f"dockspec-watch-{os.getpid()}"
    subprocess.run([*docker, "rm", "-f", name], capture_output=True, check=False)
    command = (f"cd {ROOT} && DOCKER_HOST=unix:///var/run/docker.sock {sys.executable} -m dockspec ports --watch "
               f"--tcp {PORT}; sleep 30")
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
    try:
        first = wait_pane(session, lambda p: "PROTO" in p)
        assert f":{PORT}" not in first
        subprocess.run([*docker, "run", "-d", "--name", name, "-p", f"127.0.0.1:{PORT}:80", "bb:latest", "sh", "-c",
                        CMD], capture_output=True, check=True, timeout=60)
        shown = wait_pane(session, lambda p: f"127.0.0.1:{PORT}" in p and name in p)
        assert shown.count("PROTO") == 1  # redrawn in place: the screen was cleared, not scrolled
        assert "docker-proxy" in shown
        subprocess.run([*docker, "rm", "-f", name], capture_output=True, check=True, timeout=60)
        gone = wait_pane(session, lambda p: f":{PORT}" not in p)
        assert gone.count("PROTO") == 1
    finally:
        subprocess.run([*docker, "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
