"""Root's `dockspec ports` against a user's fake `rootlessport` (issue 14: "Hang forever").

A process run as the unprivileged uid 65534 ('nobody') names itself
`rootlessport`, holds an fd on a path containing `/netns/` and listens on a
TCP port, and its user's storage `containers.json` is a FIFO (or a good
index, to show the test can name the socket). Root's `dockspec ports`
blocked in open() forever; it now ends within its deadline, the socket
unnamed, or named from the user's good storage.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockspec.cli import main
from tests.fakedaemon import DOCKER_HEADERS, fake_daemon, http_response
from tests.hostile.measure import measure

NOBODY = 65534
ID = "e" * 64
SLACK = 2.5  # as tests/hostile/test_cli.py: a loaded 2-core runner

CHILD = r"""
import socket, time
with open("/proc/self/comm", "w") as comm:
    comm.write("rootlessport")
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(1)
print(sock.getsockname()[1], flush=True)
time.sleep(60)
"""


def _free_port_holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    netns = tmp_path / "run" / "netns" / "netns-fake"
    netns.parent.mkdir(parents=True)
    netns.write_text("")
    fd = os.open(netns, os.O_RDONLY)  # inherited by the child: its fd link names the netns path
    proc = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE, text=True, pass_fds=(fd,),
    )
    os.close(fd)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc, port
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    for proc, port in _free_port_holder(tmp_path):
        yield proc, port, tmp_path


def _storage(tmp_path: Path) -> Path:
    storage = tmp_path / "data" / "containers" / "storage" / "vfs-containers"
    storage.mkdir(parents=True)
    for path in (tmp_path / "data", tmp_path / "data" / "containers", storage.parent, storage):
        os.chown(path, NOBODY, NOBODY)
    return storage


def _ports(tmp_path: Path) -> tuple[float, int, list[dict[str, object]], str]:
    with fake_daemon({("GET", "/containers/json"): http_response(200, "[]", DOCKER_HEADERS)}) as fake:
        env = {"DOCKER_HOST": fake.url, "HOME": "/nonexistent", "XDG_DATA_HOME": str(tmp_path / "data")}
        out, err = io.StringIO(), io.StringIO()
        got = measure("dockspec ports: a user's rootlessport", lambda: main(["ports", "--json"], env, out, err),
                      default_limits=True)
    assert got.value is not None, got
    return got.elapsed, got.value, json.loads(out.getvalue()), err.getvalue()


def _row(rows: list[dict[str, object]], port: int) -> dict[str, object]:
    (row,) = [r for r in rows if r["port"] == port and r["ip"] == "127.0.0.1"]
    return row


def test_fifo_storage_does_not_hang_ports(holder: tuple[subprocess.Popen[str], int, Path]) -> None:
    proc, port, tmp_path = holder
    index = _storage(tmp_path) / "containers.json"
    os.mkfifo(index)
    os.chown(index, NOBODY, NOBODY)
    elapsed, status, rows, err = _ports(tmp_path)
    assert elapsed < 3.0 + SLACK
    assert 0 == status, err
    row = _row(rows, port)
    assert ("rootlessport", proc.pid, None) == (row["process"], row["pid"], row["container"])


def test_the_users_good_storage_names_the_socket(holder: tuple[subprocess.Popen[str], int, Path]) -> None:
    """The same bed with a good index: the socket is named (so the test above can fail)."""
    _, port, tmp_path = holder
    storage = _storage(tmp_path)
    netns = str(tmp_path / "run" / "netns" / "netns-fake")
    (storage / "containers.json").write_text(json.dumps([{"id": ID, "names": ["evil"]}]))
    config = storage / ID / "userdata" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"linux": {"namespaces": [{"type": "network", "path": netns}]}}))
    for path in (storage / "containers.json", storage / ID, config.parent, config):
        os.chown(path, NOBODY, NOBODY)
    _, status, rows, err = _ports(tmp_path)
    assert 0 == status, err
    row = _row(rows, port)
    assert isinstance(row["container"], dict) and "evil" == row["container"]["name"]
    assert "rootless-netns" == row["via"]
