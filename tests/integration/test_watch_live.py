"""`dockspec events --json` and dockspec.watch on the real daemons of both beds (issue 13).

Run under the lock: flock /tmp/dockspec-live.lock .venv/bin/python -m pytest -q -m live
The Debian 12 bed (scripts/daemons.sh) and the forky bed (scripts/engines.sh);
a daemon whose bed is not up is skipped (a failure when CI is set).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.test_cli import RESET_SIGINT_AND_EXEC

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
STD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CMD = 'trap "exit 0" TERM; httpd -p 80; while :; do sleep 1; done'


def _env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        pytest.skip(f"{path} missing: the bed is not up")
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")


@attrs.frozen
class Daemon:
    bed: str
    key: str  # docker, podman, podman-rootless
    sock: str
    cli: tuple[str, ...]
    image: str
    port: int  # a free port for the throwaway container
    state: str  # the bed's state dir

    def run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([*self.cli, *args], capture_output=True, text=True, timeout=120, cwd="/", check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.cli} {args}: {result.stderr}")
        return result.stdout.strip()


def daemon(bed: str, key: str) -> Daemon:
    if bed == "debian12":
        env = _env_file(Path("/run/dockspec-daemons/env"))
        root = ("env", "-u", "DOCKER_HOST", "-u", "CONTAINER_HOST")
        rootless = (
            "setpriv", f"--reuid={env['DOCKSPEC_ROOTLESS_UID']}", f"--regid={env['DOCKSPEC_ROOTLESS_GID']}",
            "--init-groups", "env", "-i", f"HOME={env['DOCKSPEC_ROOTLESS_HOME']}", f"PATH={STD_PATH}",
            f"XDG_RUNTIME_DIR={env['DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR']}", "podman",
        )
        cli = {"docker": (*root, "docker"), "podman": (*root, "podman"), "podman-rootless": rootless}[key]
        ports = {"docker": 19981, "podman": 29981, "podman-rootless": 39981}
    else:
        env = _env_file(Path("/run/dockspec-engines/env"))
        cli = (env[{"docker": "DOCKSPEC_DOCKER_CLI", "podman": "DOCKSPEC_PODMAN_CLI",
                    "podman-rootless": "DOCKSPEC_ROOTLESS_CLI"}[key]],)
        ports = {"docker": 49981, "podman": 59981, "podman-rootless": 62981}
    sock = env[{"docker": "DOCKSPEC_DOCKER_SOCK", "podman": "DOCKSPEC_PODMAN_SOCK",
                "podman-rootless": "DOCKSPEC_ROOTLESS_SOCK"}[key]]
    image = "bb:latest" if key == "docker" else "localhost/bb:latest"
    return Daemon(bed, key, sock, cli, image, ports[key], env["DOCKSPEC_STATE_DIR"])


class Events:
    """`dockspec events --json` on one daemon (DOCKER_HOST), its lines read by a thread."""

    def __init__(self, d: Daemon) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "DOCKER_CONTEXT")}
        environ["DOCKER_HOST"] = "unix://" + d.sock
        # A shell's background job (CI) starts with SIGINT ignored and a child inherits that; a terminal's
        # Ctrl-C reaches a process whose SIGINT is the default: give the child the default.
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RESET_SIGINT_AND_EXEC, sys.executable, "-m", "dockspec", "events", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ, cwd=ROOT,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait_for(self, change: str, port: int, timeout: float = 10.0) -> tuple[dict[str, Any], float]:
        """The first line of `change` on `port`, and when it came (monotonic); fails after `timeout` s."""
        end = time.monotonic() + timeout
        while True:
            try:
                item = self.lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {change} line for port {port} within {timeout} s") from None
            if item["change"] == change and item["port"] == port:
                return item, time.monotonic()

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


DAEMONS = [(bed, key) for bed in ("debian12", "forky") for key in ("docker", "podman", "podman-rootless")]


@pytest.mark.parametrize(("bed", "key"), DAEMONS, ids=[f"{b}-{k}" for b, k in DAEMONS])
def test_a_started_container_appears_and_its_bindings_leave_when_it_dies(bed: str, key: str) -> None:
    d = daemon(bed, key)
    name = f"dswatch-{os.getpid()}-{key}"
    d.run("rm", "-f", name, check=False)
    events = Events(d)
    try:
        time.sleep(1.0)  # subscribed and listed
        d.run("run", "-d", "--name", name, "-p", f"127.0.0.1:{d.port}:80", d.image, "sh", "-c", CMD)
        cid = d.run("inspect", "-f", "{{.Id}}", name)
        added, _ = events.wait_for("added", d.port)
        assert (added["ip"], added["protocol"]) == ("127.0.0.1", "tcp")
        assert added["container"]["id"] == cid and added["container"]["name"] == name
        assert added["daemon"] == "unix://" + d.sock and added["container"]["engine"] == key.split("-", maxsplit=1)[0]
        d.run("kill", name)
        removed, _ = events.wait_for("removed", d.port)
        assert removed["container"]["id"] == cid
    finally:
        d.run("rm", "-f", name, check=False)
        status, err = events.interrupt()
    assert status == 130 and err == ""  # Ctrl-C: quiet


def _ping(sock: str) -> bool:
    result = subprocess.run(["curl", "-s", "-m", "2", "--unix-socket", sock, "http://d/_ping"], capture_output=True,
                            text=True, check=False)
    return result.stdout == "OK"


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (rootless Podman re-executes itself in its user namespace: the child serves)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        found.append(p)
        pending += children.get(p, [])
    return found


def _restart_rootless(d: Daemon) -> None:
    """Kill the bed's rootless `podman system service` and its child (the containers live on in conmon), start it again.

    The Debian 12 bed: `scripts/daemons.sh up` starts it and records it. The
    forky bed: `engines.sh up` would restart the whole bed (a daemon not its
    own), so the one service is started as up starts it, and its pid
    recorded where up records it (the pid file, DOCKSPEC_ROOTLESS_PID).
    """
    state = Path(d.state)
    old = int((state / "podman-rootless.pid").read_text())
    for pid in reversed(_tree(old)):
        os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 10
    while _ping(d.sock) and time.monotonic() < end:
        time.sleep(0.1)
    assert not _ping(d.sock)
    time.sleep(1.0)  # the watch sees it gone and retries meanwhile
    if d.bed == "debian12":
        subprocess.run(["bash", str(ROOT / "scripts" / "daemons.sh"), "up"], check=True, capture_output=True,
                       timeout=300)
    else:
        Path(d.sock).unlink(missing_ok=True)
        with open(state / "podman-rootless.log", "ab") as log:
            proc = subprocess.Popen([*d.cli, "system", "service", "--time=0", "unix://" + d.sock], stdout=log,
                                    stderr=log, stdin=subprocess.DEVNULL, start_new_session=True, cwd="/")
        (state / "podman-rootless.pid").write_text(f"{proc.pid}\n")
        env = state / "env"
        env.write_text(env.read_text().replace(f"DOCKSPEC_ROOTLESS_PID={old}\n", f"DOCKSPEC_ROOTLESS_PID={proc.pid}\n"))
        end = time.monotonic() + 30
        while not _ping(d.sock) and time.monotonic() < end:
            time.sleep(0.2)
    assert _ping(d.sock)


@pytest.mark.parametrize("bed", ["debian12", "forky"])
def test_a_watch_follows_a_daemon_killed_and_restarted(bed: str) -> None:
    d = daemon(bed, "podman-rootless")
    name = f"dswatch-{os.getpid()}-restart"
    d.run("rm", "-f", name, check=False)
    events = Events(d)
    try:
        time.sleep(1.0)
        _restart_rootless(d)
        d.run("run", "-d", "--name", name, "-p", f"127.0.0.1:{d.port}:80", d.image, "sh", "-c", CMD)
        added, _ = events.wait_for("added", d.port, timeout=15)
        assert added["container"]["name"] == name
        d.run("rm", "-f", name)
        events.wait_for("removed", d.port)
    finally:
        d.run("rm", "-f", name, check=False)
        events.interrupt()
    script = "daemons.sh" if bed == "debian12" else "engines.sh"
    status = subprocess.run(["bash", str(ROOT / "scripts" / script), "status"], capture_output=True, text=True,
                            check=False, timeout=120)
    assert status.returncode == 0, status.stdout + status.stderr
    line = next(x for x in status.stdout.splitlines() if x.startswith("== podman-rootless"))
    assert "pid=-" not in line and "ping=yes" in line, line  # the bed's records name the new service
