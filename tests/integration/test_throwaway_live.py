"""Throwaway daemons the tests start and remove: userland-proxy false, and rootless Docker (issue 12).

scripts/noproxy.sh starts a dockerd of its own (socket, data-root, exec-root,
bridge; no iptables) with `--userland-proxy=false`, Docker 20.10 on the host
and Docker 28.5 in the forky bed's ROOT; scripts/rootless-docker.sh starts
dockerd-rootless.sh under rootlesskit as the rootless Podman 4.3 user. Each
test brings its daemon up, checks `dockspec ports --json` against the host's
own socket table (psutil, as ss shows it) and the ids the script recorded,
and takes it down. Run as root under the live lock.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockspec.cli import main

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=300, check=False, cwd="/")


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def ports(sock: str) -> list[dict[str, Any]]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "CONTAINER_HOST")}
    environ["DOCKER_HOST"] = "unix://" + sock
    out, err = io.StringIO(), io.StringIO()
    assert 0 == main(["ports", "--json"], environ, out, err), err.getvalue()
    rows: list[dict[str, Any]] = json.loads(out.getvalue())
    return rows


def holders(port: int) -> list[tuple[str, str, int]]:
    """(address, process name, pid) of the host's TCP listeners on `port`."""
    import psutil

    return sorted(
        (c.laddr.ip, psutil.Process(c.pid).name(), c.pid)
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid is not None
    )


def needs_root() -> None:
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip("run as root on the Debian 12 bed (dockerd)")


@pytest.fixture(params=["20.10", "28"])
def noproxy(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    needs_root()
    version = request.param
    if version == "28" and not Path("/run/dockspec-engines/env").exists():
        pytest.skip("the forky bed is not up: run `bash scripts/engines.sh up`")
    try:
        up = script("noproxy.sh", "up", version)
        assert up.returncode == 0, up.stderr
        yield env_file(Path(f"/run/dockspec-noproxy-{version}/env"))
    finally:
        down = script("noproxy.sh", "down", version)
        assert down.returncode == 0, down.stderr


def test_userland_proxy_false_dockerd_holds_the_port_and_is_named(noproxy: dict[str, str]) -> None:
    port, pid = int(noproxy["NOPROXY_PORT"]), int(noproxy["NOPROXY_DOCKERD_PID"])
    held = holders(port)
    assert held, f"nothing holds {port}"
    assert {"dockerd"} == {name for _, name, _ in held}, held  # no docker-proxy: the daemon itself
    rows = [r for r in ports(noproxy["NOPROXY_SOCK"]) if r["port"] == port and r["protocol"] == "tcp"]
    assert {(ip, name, p) for ip, name, p in held} == {(r["ip"], r["process"], r["pid"]) for r in rows}
    assert all(r["pid"] == pid or r["pid"] in child_pids(pid) for r in rows)
    assert {(noproxy["NOPROXY_ID"], "binding")} == {(r["container"]["id"], r["via"]) for r in rows}


def child_pids(pid: int) -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process(pid).children(recursive=True)}


@pytest.fixture
def rootless_docker() -> Iterator[dict[str, str]]:
    needs_root()
    if shutil.which("rootlesskit") is None:
        pytest.skip("rootlesskit is not installed (apt-get install rootlesskit)")
    try:
        up = script("rootless-docker.sh", "up")
        assert up.returncode == 0, up.stderr
        yield env_file(Path("/run/dockspec-rldocker/env"))
    finally:
        down = script("rootless-docker.sh", "down")
        assert down.returncode == 0, down.stderr


def test_rootless_docker_ports_are_named_via_rootlesskit(rootless_docker: dict[str, str]) -> None:
    rld = rootless_docker
    rows = ports(rld["RLD_SOCK"])
    for port_key, id_key in (("RLD_WEB_PORT", "RLD_WEB_ID"), ("RLD_LO4_PORT", "RLD_LO4_ID")):
        port = int(rld[port_key])
        held = holders(port)
        assert held and {"rootlesskit"} == {name for _, name, _ in held}, held
        mine = [r for r in rows if r["port"] == port and r["protocol"] == "tcp"]
        assert {(ip, p) for ip, _, p in held} == {(r["ip"], r["pid"]) for r in mine}
        assert {(rld[id_key], "rootlesskit")} == {(r["container"]["id"], r["via"]) for r in mine}
