"""The `dockspec` command against the real Docker, rootful and rootless Podman, on both beds.

Commands run in this process through `cli.main`; `endpoints` also runs as
the installed console script, a subprocess.

Expected values come from what the scripts started (their containers.json),
never from dockspec's rules. Run as root, with XDG_RUNTIME_DIR set to the
rootless user's runtime dir so the table entry
`{xdg_runtime_dir}/podman/podman.sock` finds its daemon, and on the forky
bed a docker context and a podman connection for the daemons at non-default
paths (tests/integration/conftest.py).
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec.cli import main
from tests.integration.conftest import DAEMONS, Daemons, all_beds

pytestmark = pytest.mark.live

DOCKSPEC = shutil.which("dockspec", path=os.path.dirname(sys.executable))


@attrs.frozen
class Result:
    returncode: int
    stdout: str
    stderr: str


def environ(daemons: Daemons) -> dict[str, str]:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("the live CLI tests run as root (every daemon's helper processes must be visible)")
    return daemons.environ()


def run(daemons: Daemons, *args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(args), environ(daemons), out, err)
    return Result(status, out.getvalue(), err.getvalue())


def run_script(daemons: Daemons, *args: str) -> subprocess.CompletedProcess[str]:
    assert DOCKSPEC is not None, "the dockspec console script is not installed next to this python"
    env = environ(daemons)
    return subprocess.run([DOCKSPEC, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def run_json(daemons: Daemons, *args: str, script: bool = False) -> tuple[int, list[dict[str, Any]]]:
    result = (run_script if script else run)(daemons, *args, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return result.returncode, data


def same_ip(a: str, b: str) -> bool:
    return ipaddress.ip_address(a) == ipaddress.ip_address(b)


def test_ports_names_every_published_port_of_every_running_container(daemons: Daemons) -> None:
    """Each port of each running container (ranges: every port, all three daemons) is a row named by it."""
    status, rows = run_json(daemons, "ports")
    assert 0 == status
    expected = [(c["name"], p) for c in daemons.running() for p in c["ports"]]
    assert {"docker", "podman", "podman-rootless"} == {c["daemon"] for c in daemons.running() if c["ports"]}
    missing = []
    wrong = []
    for name, port in expected:
        candidates = [
            r for r in rows
            if r["port"] == port["host_port"] and r["protocol"] == port["protocol"]
            and (port["host_ip"] is None or same_ip(r["ip"], port["host_ip"]))
        ]
        if not candidates:
            missing.append((name, port))
        wrong += [(name, r) for r in candidates if (r["container"] or {}).get("name") != name]
    assert [] == missing
    assert [] == wrong
    # each came through its helper's own evidence, not a guess
    helpers = {r["process"]: r["via"] for r in rows if r["container"]}
    assert {"docker-proxy": "cmdline-ports", "conmon": "cmdline-id", "rootlessport": "rootless-netns"} == {
        k: v for k, v in helpers.items() if k in ("docker-proxy", "conmon", "rootlessport")
    }


def test_ports_rows_carry_the_daemon_of_each_container(daemons: Daemons) -> None:
    status, rows = run_json(daemons, "ports", "--containers-only")
    assert 0 == status
    sockets = {c["name"]: "unix://" + c["socket"] for c in daemons.running()}
    seen = {r["container"]["name"]: r["container"]["daemon"] for r in rows if r["container"]["name"] in sockets}
    assert {name: sockets[name] for name in seen} == seen
    assert {c["name"] for c in daemons.running() if c["ports"]} == set(seen)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_who_names_the_container_of_a_real_port(daemons: Daemons, daemon: str) -> None:
    prefix = daemons.prefix(daemon)
    by_name = {c["name"]: c for c in daemons.running()}
    for suffix, target in (("web", "{}"), ("udp", "{}/udp"), ("lo4", "127.0.0.1:{}"), ("lo6", "[::1]:{}"),
                           ("range", "{}")):
        container = by_name[f"{prefix}-{suffix}"]
        query = target.format(container["ports"][-1]["host_port"])
        status, data = run_json(daemons, "who", query)
        assert (0, [(container["name"], container["id"])]) == (status, [(c["name"], c["id"]) for c in data]), query
    text = run(daemons, "who", str(by_name[f"{prefix}-web"]["ports"][0]["host_port"]))
    assert 0 == text.returncode
    assert f"{prefix}-web (" in text.stdout


def test_who_on_an_unpublished_port_is_not_found(daemons: Daemons) -> None:
    published = {p["host_port"] for c in daemons.containers for p in c["ports"]}
    port = next(p for p in range(19999, 10000, -1) if p not in published)
    result = run(daemons, "who", str(port))
    assert 1 == result.returncode
    assert f"no container publishes tcp port {port}" == result.stdout.strip()


def test_ps_lists_every_running_container_with_its_daemon(daemons: Daemons) -> None:
    status, rows = run_json(daemons, "ps")
    assert 0 == status
    ours = {r["name"]: r for r in rows if r["name"].startswith(daemons.prefixes())}
    assert {c["name"] for c in daemons.running()} == set(ours)
    for c in daemons.running():
        row = ours[c["name"]]
        assert (c["id"], c["image"], "unix://" + c["socket"]) == (row["id"], row["image"], row["daemon"])
        # a host-network container publishes nothing: its process listens on the host port itself
        published = [] if c.get("network") == "host" else c["ports"]
        assert sorted((p["host_ip"], p["host_port"], p["protocol"]) for p in published) == sorted(
            (p["ip"], p["port"], p["protocol"]) for p in row["ports"]
        )


def test_endpoints_finds_all_three_daemons(daemons: Daemons) -> None:
    """The bed's three daemons answer, each as its engine; any other that answers is another bed's."""
    status, rows = run_json(daemons, "endpoints", script=True)
    assert 0 == status
    ok = {r["address"]: r["engine"] for r in rows if r["ok"]}
    mine = {daemons.socket(d) for d in DAEMONS}
    assert {
        daemons.env["DOCKSPEC_DOCKER_SOCK"]: "docker",
        daemons.env["DOCKSPEC_PODMAN_SOCK"]: "podman",
        daemons.env["DOCKSPEC_ROOTLESS_SOCK"]: "podman",
    } == {address: engine for address, engine in ok.items() if address in mine}
    beds = {bed.socket(d) for bed in all_beds() for d in DAEMONS}
    # anything else that answered is another user's rootless socket, which root probes too
    others = {r["origin"] for r in rows if r["ok"] and r["address"] not in beds}
    assert others <= ({"docker-rootless-users", "podman-rootless-users"} if os.geteuid() == 0 else set()), others


# ---------------------------------------------------------------- host networking, no daemon


def host_listeners(port: int) -> list[tuple[str, int, str]]:
    """The host's own socket table (iproute2's ss, not psutil): (address, pid, process) of each TCP listener on port."""
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        local = fields[3]
        address = local.rsplit(":", 1)[0].strip("[]")
        address = "::" if address == "*" else address
        for process, pid in re.findall(r'\("([^"]*)",pid=(\d+)', line):
            found.append((address, int(pid), process))
    return sorted(found)


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether `ancestor` is `pid` or one of its parents (read from /proc, not from dockspec)."""
    while pid > 1:
        if pid == ancestor:
            return True
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    return False


def host_network_containers(daemons: Daemons) -> list[dict[str, Any]]:
    hosts = [c for c in daemons.running() if c.get("network") == "host"]
    assert {"docker", "podman"} == {c["daemon"] for c in hosts}, "the bed runs a host-network container on both"
    return hosts


def test_ports_names_host_network_sockets_by_their_containers_cgroup(daemons: Daemons) -> None:
    """Docker 20.10's and rootful Podman 4.3's --network host containers: their own httpd holds the host port."""
    status, rows = run_json(daemons, "ports")
    assert 0 == status
    for c in host_network_containers(daemons):
        port = c["ports"][0]["host_port"]
        table = host_listeners(port)
        assert table, f"nothing listens on {port} ({c['name']})"
        init_pid = int(daemons.cli(c["daemon"], "inspect", "-f", "{{.State.Pid}}", c["name"]))
        assert all(descends_from(pid, init_pid) for _, pid, _ in table), (c["name"], table, init_pid)
        mine = [r for r in rows if r["port"] == port and r["protocol"] == "tcp"]
        assert sorted((ipaddress.ip_address(a), pid, p) for a, pid, p in table) == sorted(
            (ipaddress.ip_address(r["ip"]), r["pid"], r["process"]) for r in mine
        )
        assert [(c["name"], c["id"], "unix://" + c["socket"], c["daemon"], "cgroup")] * len(mine) == [
            (r["container"]["name"], r["container"]["id"], r["container"]["daemon"], r["container"]["engine"],
             r["via"])
            for r in mine
        ]


def test_who_finds_a_host_network_containers_port(daemons: Daemons) -> None:
    for c in host_network_containers(daemons):
        status, data = run_json(daemons, "who", str(c["ports"][0]["host_port"]))
        assert (0, [(c["name"], c["id"])]) == (status, [(x["name"], x["id"]) for x in data])


def test_ports_with_a_dead_docker_host_lists_every_socket_and_exits_0(daemons: Daemons, tmp_path: Path) -> None:
    """DOCKER_HOST names a socket nobody serves: every socket is still listed; cgroup still names containers."""
    dead = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(dead))
    listener.close()  # the file stays, nobody accepts: connection refused
    env = {**environ(daemons), "DOCKER_HOST": "unix://" + str(dead)}
    out, err = io.StringIO(), io.StringIO()
    status = main(["ports", "--json"], env, out, err)
    assert 0 == status
    assert "Traceback" not in err.getvalue()
    lines = err.getvalue().strip().splitlines()
    assert 1 == len(lines) and "no daemon answered" in lines[0] and "dockspec endpoints" in lines[0], lines
    rows = json.loads(out.getvalue())
    listed = {(r["protocol"], r["port"]) for r in rows}
    every_port = {(p["protocol"], p["host_port"]) for c in daemons.running() for p in c["ports"]}
    assert set() == every_port - listed
    for c in host_network_containers(daemons):
        port = c["ports"][0]["host_port"]
        assert host_listeners(port)
        named = {(r["container"]["id"], r["container"]["name"], r["container"]["daemon"], r["container"]["engine"],
                  r["via"]) for r in rows if r["port"] == port and r["protocol"] == "tcp"}
        assert {(c["id"], c["id"][:12], None, c["daemon"], "cgroup")} == named
    # nothing came from a daemon's list
    assert all(r["container"] is None or r["container"]["daemon"] is None for r in rows)


def test_stop_refuses_a_name_two_daemons_know_until_one_is_picked(daemons: Daemons) -> None:
    """One name on Docker and on rootful Podman: exit 5 and nothing stopped; --daemon picks one, which is named."""
    import uuid

    name = f"ds-twin-{uuid.uuid4().hex[:8]}"
    script = 'trap "exit 0" TERM; while :; do sleep 1; done'
    images = {"docker": "bb:latest", "podman": "localhost/bb:latest"}
    running = {"docker": "true", "podman": "true"}
    docker_url, podman_url = f"unix://{daemons.socket('docker')}", f"unix://{daemons.socket('podman')}"
    try:
        for daemon, image in images.items():
            daemons.cli(daemon, "run", "-d", "--name", name, image, "sh", "-c", script)
        refused = run(daemons, "stop", name)
        assert 5 == refused.returncode, refused
        assert "" == refused.stdout
        assert f" {docker_url}" in refused.stderr and f" {podman_url}" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert running == {d: daemons.cli(d, "inspect", "-f", "{{.State.Running}}", name) for d in images}

        # by origin (as `dockspec endpoints` shows it: a table entry here, context:forky on the forky bed)
        origin = "docker-rootful" if daemons.bed == "debian12" else "context:forky"
        picked = run(daemons, "stop", "-t", "5", "--daemon", origin, name)
        assert 0 == picked.returncode, picked
        assert f"{name}: stopped (by {origin}, {docker_url})" == picked.stdout.strip()
        running["docker"] = "false"
        assert running == {d: daemons.cli(d, "inspect", "-f", "{{.State.Running}}", name) for d in images}

        # still known to both (Docker's is stopped): refused again, and by URL the other is killed
        assert 5 == run(daemons, "kill", name).returncode
        status, rows = run_json(daemons, "kill", "--daemon", podman_url, name)
        assert 0 == status
        podman_origin = "podman-rootful" if daemons.bed == "debian12" else rows[0]["origin"]
        assert podman_origin.startswith(("podman-rootful", "connection:")), rows
        assert [{"container": name, "action": "kill", "outcome": "stopped",
                 "daemon": podman_url, "origin": podman_origin}] == rows
        deadline = time.monotonic() + 10
        while daemons.cli("podman", "inspect", "-f", "{{.State.Running}}", name) == "true":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        for daemon in images:
            daemons.cli(daemon, "rm", "-f", name, check=False)
