"""`dockspec ports --json` names every published socket of both beds (issue 12, "Done when").

Each case is one bed, one daemon, one way its user reaches it (the default
table, DOCKER_HOST, CONTAINER_HOST, a docker context or a podman connection
for a daemon at a non-default path, or root with nothing set). Expected
values are the container set the scripts recorded (containers.json) and the
host's own socket table (`ss -ltnup -H`, iproute2), never the daemons'
answers: every socket the host lists on a running container's published
port (or, for a host-network container, the port it listens on itself) must
be a row naming that container, by name and id, and every row naming one of
the containers must be on one of its ports.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import subprocess
from typing import Any

import attrs
import pytest

from dockspec.cli import main
from tests.integration.conftest import CHOOSERS, Daemons

pytestmark = pytest.mark.live


@attrs.frozen
class Listener:
    """One line of the host's socket table."""

    protocol: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    pids: frozenset[int]


def host_sockets() -> list[Listener]:
    """`ss -ltnup -H`: every listening TCP socket and bound UDP socket, with the pids holding it."""
    out = subprocess.run(["ss", "-ltnup", "-H"], capture_output=True, text=True, timeout=30, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        address, _, port = fields[4].rpartition(":")
        address = address.strip("[]").split("%", 1)[0]
        pids = frozenset(int(p) for p in re.findall(r"pid=(\d+)", line))
        found.append(Listener(fields[0], ipaddress.ip_address("::" if address == "*" else address), int(port), pids))
    return found


def nothing_set() -> dict[str, str]:
    """root's environment with no daemon chosen and no XDG_RUNTIME_DIR: the default table alone."""
    return {k: v for k, v in os.environ.items() if k not in (*CHOOSERS, "XDG_RUNTIME_DIR")}


def reach_environ(daemons: Daemons, reach: str, daemon: str) -> dict[str, str]:
    if reach in ("table", "context", "connection", "xdg"):
        return daemons.environ()  # the bed's default reach (conftest.py)
    if reach == "DOCKER_HOST":
        return daemons.environ(DOCKER_HOST="unix://" + daemons.socket(daemon))
    if reach == "CONTAINER_HOST":
        return daemons.environ(CONTAINER_HOST="unix://" + daemons.socket(daemon))
    assert reach == "nothing-set", reach
    return nothing_set()


def selected(daemons: Daemons, daemon: str, which: str) -> list[dict[str, Any]]:
    """The daemon's running containers that publish or listen on a port; `which` narrows by network."""
    mine = [c for c in daemons.running(daemon) if c["ports"]]
    if which == "default-network":  # rootless Podman 5: pasta holds these
        mine = [c for c in mine if not c.get("network")]
    elif which == "own-network":  # rootless Podman 5: rootlessport holds these (r5-net)
        mine = [c for c in mine if c.get("network") not in (None, "", "host")]
    assert mine, (daemons.bed, daemon, which)
    return mine


def on_port(listener: Listener, port: dict[str, Any]) -> bool:
    if (listener.protocol, listener.port) != (port["protocol"], port["host_port"]):
        return False
    return port["host_ip"] is None or listener.ip == ipaddress.ip_address(port["host_ip"])


CASES = [
    # The Debian 12 bed: every daemon at a default path; rootless through XDG_RUNTIME_DIR.
    ("debian12", "table", "docker", "all"),
    ("debian12", "table", "podman", "all"),
    ("debian12", "table", "podman-rootless", "all"),
    ("debian12", "DOCKER_HOST", "docker", "all"),
    ("debian12", "CONTAINER_HOST", "podman", "all"),
    ("debian12", "CONTAINER_HOST", "podman-rootless", "all"),
    ("debian12", "nothing-set", "docker", "all"),
    ("debian12", "nothing-set", "podman", "all"),
    # rootlessport: the network namespace and the user's storage name it, no daemon needed
    ("debian12", "nothing-set", "podman-rootless", "all"),
    # The forky bed: Docker 28 and rootful Podman 5 at non-default paths.
    ("forky", "context", "docker", "all"),
    ("forky", "DOCKER_HOST", "docker", "all"),
    ("forky", "connection", "podman", "all"),
    ("forky", "CONTAINER_HOST", "podman", "all"),
    ("forky", "xdg", "podman-rootless", "all"),
    ("forky", "CONTAINER_HOST", "podman-rootless", "all"),
    ("forky", "nothing-set", "podman-rootless", "own-network"),
    pytest.param("forky", "nothing-set", "podman-rootless", "default-network"),
]


@pytest.mark.parametrize(("daemons", "reach", "daemon", "which"), CASES, indirect=["daemons"])
def test_ports_json_names_every_published_socket(daemons: Daemons, reach: str, daemon: str, which: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("run as root: every daemon's helper processes must be visible")
    containers = selected(daemons, daemon, which)
    out, err = io.StringIO(), io.StringIO()
    status = main(["ports", "--json"], reach_environ(daemons, reach, daemon), out, err)
    table = host_sockets()  # after the run: a socket dockspec saw was there before too
    assert 0 == status, err.getvalue()
    assert "Traceback" not in err.getvalue()
    rows = json.loads(out.getvalue())
    by_socket: dict[tuple[str, Any, int], list[dict[str, Any]]] = {}
    for row in rows:
        by_socket.setdefault((row["protocol"], ipaddress.ip_address(row["ip"]), row["port"]), []).append(row)

    problems = []
    for c in containers:
        for port in c["ports"]:
            held = [s for s in table if on_port(s, port)]
            if not held:
                problems.append(("the host lists no socket", c["name"], port))
            for s in held:
                got = by_socket.get((s.protocol, s.ip, s.port), [])
                if not got:
                    problems.append(("no row", c["name"], s))
                for row in got:
                    named = row["container"] or {}
                    if (named.get("name"), named.get("id")) != (c["name"], c["id"]):
                        problems.append(("named otherwise", c["name"], s, named, row["via"]))
                    if row["pid"] not in s.pids:
                        problems.append(("holder differs from ss", c["name"], s, row["pid"]))
    assert [] == problems

    # No row names one of these containers on a port it does not publish (or listen on).
    own = {c["name"]: {(p["protocol"], p["host_port"]) for p in c["ports"]} for c in containers}
    stray = [r for r in rows if (r["container"] or {}).get("name") in own
             and (r["protocol"], r["port"]) not in own[r["container"]["name"]]]
    assert [] == stray


@pytest.mark.parametrize("daemons", ["debian12", "forky"], indirect=True)
def test_created_containers_publish_no_socket(daemons: Daemons) -> None:
    """A created, never started container's port: no socket on the host, and no row names the container."""
    created = [c for c in daemons.containers if c["state"] == "created"]
    assert {c["daemon"] for c in created} == {"docker", "podman", "podman-rootless"}
    out, err = io.StringIO(), io.StringIO()
    assert 0 == main(["ports", "--json"], daemons.environ(), out, err), err.getvalue()
    rows = json.loads(out.getvalue())
    table = host_sockets()
    for c in created:
        assert [] == [s for p in c["ports"] for s in table if on_port(s, p)], c["name"]
        assert [] == [r for r in rows if (r["container"] or {}).get("name") == c["name"]]
