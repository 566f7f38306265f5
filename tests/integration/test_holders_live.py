"""Holders on the forky bed's rootless Podman 5.8 (scripts/engines.sh): pasta and rootlessport.

Expected values come from what scripts/engines.sh started
(/run/dockspec-engines/containers.json) and from the host's own socket table
(psutil, as ss shows it), never from dockspec's rules. Run as root with
XDG_RUNTIME_DIR set to the rootless user's runtime dir, so the table entry
`{xdg_runtime_dir}/podman/podman.sock` reaches that user's daemon (root's
probing of every /run/user/* is another part of issue 12).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockspec.cli import main

pytestmark = pytest.mark.live

STATE = Path(os.environ.get("DOCKSPEC_ENGINES_STATE_DIR", "/run/dockspec-engines"))


def bed() -> tuple[dict[str, str], list[dict[str, Any]]]:
    env_file, containers_file = STATE / "env", STATE / "containers.json"
    if not env_file.exists() or not containers_file.exists():
        pytest.skip(f"the forky bed is not up ({env_file} missing): run `bash scripts/engines.sh up`")
    if os.geteuid() != 0:
        pytest.skip("run as root: the rootless user's helper processes must be visible")
    env = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and not line.startswith("#")
    )
    return env, json.loads(containers_file.read_text())


def ports_json(environ: dict[str, str]) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["ports", "--json"], environ, out, err)
    return status, json.loads(out.getvalue() or "[]"), err.getvalue()


def host_holders() -> dict[tuple[str, int], set[str]]:
    """(protocol, port) -> the names of the processes holding a host socket there (psutil, as ss)."""
    import socket

    import psutil

    held: dict[tuple[str, int], set[str]] = {}
    for conn in psutil.net_connections(kind="inet"):
        listening = conn.type == socket.SOCK_STREAM and conn.status == psutil.CONN_LISTEN
        bound = conn.type == socket.SOCK_DGRAM and not conn.raddr
        if (listening or bound) and conn.laddr and conn.pid is not None:
            proto = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
            held.setdefault((proto, conn.laddr.port), set()).add(psutil.Process(conn.pid).name())
    return held


def rootless_environ(env: dict[str, str], **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST", "DOCKER_CONTEXT")}
    environ["XDG_RUNTIME_DIR"] = env["DOCKSPEC_ROOTLESS_XDG_RUNTIME_DIR"]
    environ.update(extra)
    return environ


def expected(containers: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """(protocol, host port) -> the running rootless container publishing it, as the bed recorded it."""
    return {
        (p["protocol"], p["host_port"]): c
        for c in containers
        if c["daemon"] == "podman-rootless" and c["state"] == "running"
        for p in c["ports"]
    }


def check_rows(rows: list[dict[str, Any]], containers: list[dict[str, Any]], daemon: str | None) -> int:
    """Every recorded published port a process holds now is named by its container; `daemon`: and listed by it."""
    by_daemon = daemon is not None
    held = host_holders()
    named = 0
    for (proto, port), container in expected(containers).items():
        holders = held.get((proto, port), set())
        if not holders:
            continue  # stopped by another live test since the bed came up
        mine = [r for r in rows if r["protocol"] == proto and r["port"] == port and r["pid"] is not None]
        assert mine, (proto, port, holders)
        for row in mine:
            want_via = "rootless-netns" if container.get("network") else "pasta"
            assert (container["id"], want_via) == ((row["container"] or {}).get("id"), row["via"]), row
            assert row["process"].startswith("rootlessport" if container.get("network") else "pasta")
            if by_daemon:
                assert container["name"] == row["container"]["name"]
                assert row["container"]["daemon"] == daemon
            named += 1
    return named


def test_rootless_podman_5_sockets_are_named_via_pasta() -> None:
    env, containers = bed()
    status, rows, err = ports_json(rootless_environ(env))
    assert status == 0, err
    named = check_rows(rows, containers, "unix://" + env["DOCKSPEC_ROOTLESS_SOCK"])
    assert named >= 5, rows  # web, udp, lo4, lo6 and the range at least (stop may be stopped)


def test_pasta_names_from_storage_when_no_daemon_answers() -> None:
    """No daemon reachable: pasta's --netns still leads to the container through the user's storage."""
    env, containers = bed()
    status, rows, err = ports_json(rootless_environ(env, DOCKER_HOST="unix:///nonexistent/dockspec.sock"))
    assert status == 0 and "no daemon answered" in err
    assert check_rows(rows, containers, None) >= 5
    by_port = {(r["protocol"], r["port"]): r for r in rows if r["container"]}
    web = next(c for c in containers if c["name"] == "r5-web")
    assert "r5-web" == by_port[("tcp", web["ports"][0]["host_port"])]["container"]["name"]


def test_pasta_names_only_what_it_publishes() -> None:
    """Every socket a pasta holds is a port the bed published, named by that container (no other pasta row is named)."""
    env, containers = bed()
    _, rows, _ = ports_json(rootless_environ(env))
    published = expected(containers)
    pasta_rows = [r for r in rows if (r["process"] or "").startswith("pasta")]
    assert pasta_rows
    for row in pasta_rows:
        container = published.get((row["protocol"], row["port"]))
        assert container is not None, row
        assert (container["id"], "pasta") == (row["container"]["id"], row["via"])


def rootlessport_pids(user: str) -> list[int]:
    import psutil

    return [p.pid for p in psutil.process_iter(["name", "username"]) if p.info["name"] == "rootlessport"
            and p.info["username"] == user]


def held_ids(pid: int) -> set[str]:
    from dockspec._io.podman_fs import FsReader
    from dockspec.podman import ids_of_unix_sockets, socket_inodes

    reader = FsReader()
    inodes = socket_inodes(reader.fd_links(pid))
    return set().union(*(ids_of_unix_sockets(t, inodes) for t in reader.unix_tables(pid)))


def test_podman_5_rootlessport_holds_its_container_id_socket() -> None:
    """r5-net (a custom network: rootlessport, not pasta, holds its port) holds <tmpdir>/rp/<id>."""
    env, containers = bed()
    net = next(c for c in containers if c["name"] == "r5-net")
    pids = rootlessport_pids(env["DOCKSPEC_ROOTLESS_USER"])
    assert pids
    assert {net["id"]} == set().union(*(held_ids(pid) for pid in pids))


def test_podman_4_3_rootlessport_holds_no_id_socket() -> None:
    """Debian 12's rootless Podman 4.3 (dsr-*): only rootlessport<N>/.bp.sock, so the netns alone decides."""
    state = Path("/run/dockspec-daemons/env")
    if not state.exists() or os.geteuid() != 0:
        pytest.skip("the Debian 12 bed is not up, or not root")
    user = next(line.split("=", 1)[1] for line in state.read_text().splitlines()
                if line.startswith("DOCKSPEC_ROOTLESS_USER="))
    pids = rootlessport_pids(user)
    assert pids
    assert all(held_ids(pid) == set() for pid in pids)


def who_json(environ: dict[str, str], target: str) -> tuple[int, list[dict[str, Any]]]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["who", "--json", target], environ, out, err)
    return status, json.loads(out.getvalue() or "[]")


def test_who_uses_the_socket_attribution_of_ports() -> None:
    """who PORT names the pasta-held rootless Podman 5 ports via pasta, as ports does."""
    env, containers = bed()
    environ = rootless_environ(env)
    held = host_holders()
    checked = 0
    for (proto, port), container in expected(containers).items():
        if not any(name.startswith("pasta") for name in held.get((proto, port), ())):
            continue
        status, rows = who_json(environ, f"{port}/{proto}")
        assert (0, [(container["id"], "pasta")]) == (status, [(r["id"], r["via"]) for r in rows])
        checked += 1
    assert checked >= 5


def test_who_finds_a_host_network_container_by_cgroup() -> None:
    """The Debian 12 bed's dsd-host (Docker 20.10, --network host): no daemon publishes its port; its httpd holds it."""
    state = Path("/run/dockspec-daemons/containers.json")
    if not state.exists() or os.geteuid() != 0:
        pytest.skip("the Debian 12 bed is not up, or not root")
    hosts = [c for c in json.loads(state.read_text()) if c.get("network") == "host" and c["state"] == "running"]
    assert hosts
    environ = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "CONTAINER_HOST", "DOCKER_CONTEXT")}
    for container in hosts:
        port = container["ports"][0]["host_port"]
        status, rows = who_json(environ, str(port))
        assert (0, [(container["id"], "cgroup")]) == (status, [(r["id"], r["via"]) for r in rows]), container["name"]
