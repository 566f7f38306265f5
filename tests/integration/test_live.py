"""Every feature against the real Docker, rootful Podman and rootless Podman, on both beds.

Each test runs once per bed (the `daemons` fixture): Docker 20.10 and Podman
4.3 (scripts/daemons.sh), Docker 28.5 and Podman 5.8 (scripts/engines.sh).
Expected values come from what the scripts started (their containers.json)
and from the engines' own CLIs, never from dockspec's rules.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator

import pytest

from dockspec import (
    ContainerInfo,
    Found,
    InvalidContainerId,
    Limits,
    Protocol,
    RootlessPodmanResolver,
    StopOutcome,
    await_detection,
    detect_containers,
    lookup_published_container,
    lookup_rootless_podman_container,
    probe_endpoints,
    short_container_id,
    start_detection,
    stop_container,
)
from dockspec._io.podman_fs import FsReader
from tests.integration.conftest import DAEMONS, Daemons

pytestmark = pytest.mark.live


def expected_bindings(daemons: Daemons, daemon: str | None = None) -> dict[tuple[str | None, int, Protocol], str]:
    """(ip, port, protocol) -> container name, for every port of every running container started."""
    return {
        (p["host_ip"], p["host_port"], Protocol(p["protocol"])): c["name"]
        for c in daemons.running(daemon)
        if c.get("network") != "host"  # a host-network container publishes nothing (its process listens itself)
        for p in c["ports"]
    }


def test_detection_merges_all_three_daemons(daemons: Daemons) -> None:
    """No DOCKER_HOST: the bed's three daemons, reached as their users would, merged; every published port is mapped."""
    port_map = detect_containers(env=daemons.detection_env())
    expected = expected_bindings(daemons)
    assert len(expected) >= 27  # 9 bindings per daemon in scripts/containers.txt
    actual = {key: port_map[key].name for key in expected if key in port_map}
    assert expected == actual
    by_name = {c["name"]: c for c in daemons.running()}
    for key in expected:
        info = port_map[key]
        assert (by_name[info.name]["id"], by_name[info.name]["image"]) == (info.id, info.image)
    daemon_urls = {port_map[key].daemon for key in expected}
    assert {
        "unix://" + daemons.env["DOCKSPEC_DOCKER_SOCK"],
        "unix://" + daemons.env["DOCKSPEC_PODMAN_SOCK"],
        "unix://" + daemons.env["DOCKSPEC_ROOTLESS_SOCK"],
    } == daemon_urls


def test_ranges_are_complete_on_every_daemon(daemons: Daemons) -> None:
    """All four ports of each published range are present, Podman's included."""
    port_map = detect_containers(env=daemons.detection_env())
    for daemon in DAEMONS:
        ranged = daemons.named(daemon, "range")
        ports = [p["host_port"] for p in ranged["ports"]]
        assert 4 == len(ports)
        assert [ranged["name"]] * 4 == [port_map[(None, port, Protocol.TCP)].name for port in ports]


def test_created_and_portless_containers(daemons: Daemons) -> None:
    """A created-never-started container publishes nothing; a portless one is listed but not mapped."""
    reports, explicit = probe_endpoints(env=daemons.detection_env())
    assert not explicit
    listed = {c.name for r in reports for c in r.containers}
    mapped = {info.name for r in reports for info in r.bindings.values()}
    for created in [c for c in daemons.containers if c["state"] == "created"]:
        assert created["name"] not in listed
    for noport in (daemons.named(daemon, "noport")["name"] for daemon in DAEMONS):
        assert noport in listed
        assert noport not in mapped
    engines = {r.endpoint.url: r.engine for r in reports if r.ok}
    assert {"docker", "podman"} == set(engines.values())


def helper_sockets() -> Iterator[tuple[str, int, str | None, int, Protocol]]:
    """(process name, pid, ip, port, protocol) of every socket held by a known helper."""
    import psutil

    for conn in psutil.net_connections(kind="inet"):
        if conn.pid is None or not conn.laddr:
            continue
        is_tcp = conn.type == __import__("socket").SOCK_STREAM
        if is_tcp and conn.status != psutil.CONN_LISTEN:
            continue
        if not is_tcp and conn.raddr:
            continue
        try:
            name = psutil.Process(conn.pid).name()
        except psutil.Error:
            continue
        yield name, conn.pid, conn.laddr.ip, conn.laddr.port, Protocol.TCP if is_tcp else Protocol.UDP


def holder_kind(process: str) -> str:
    """pasta's binary is pasta, pasta.avx2 or pasta.avx512 (by the CPU)."""
    return "pasta" if process in ("pasta", "pasta.avx2", "pasta.avx512") else process


def test_helper_sockets_are_named_with_the_proxy_fallback(daemons: Daemons) -> None:
    """Each socket of docker-proxy, conmon, rootlessport or pasta resolves to the container that publishes its port."""
    port_map = detect_containers(env=daemons.detection_env())
    by_port = {(port, proto): name for (_, port, proto), name in expected_bindings(daemons).items()}
    seen: dict[str, int] = {}
    for process, _pid, ip, port, proto in helper_sockets():
        name = holder_kind(process)
        if name not in ("docker-proxy", "conmon", "rootlessport", "pasta") or (port, proto) not in by_port:
            continue
        match = lookup_published_container(port_map, (ip, port), proto, allow_proxy_fallback=True)
        assert isinstance(match, Found), (name, ip, port, proto, match)
        assert by_port[(port, proto)] == match.container.name
        seen[name] = seen.get(name, 0) + 1
    # Podman 5's rootless containers on the default network are served by pasta;
    # rootlessport remains for one on a network of its own (r5-net).
    holders = {"debian12": {"docker-proxy", "conmon", "rootlessport"},
               "forky": {"docker-proxy", "conmon", "rootlessport", "pasta"}}
    assert holders[daemons.bed] == set(seen)


@pytest.mark.parametrize("which", ["unix", "tcp"])
def test_docker_host_selects_that_daemon_alone(daemons: Daemons, which: str) -> None:
    url = "unix://" + daemons.env["DOCKSPEC_DOCKER_SOCK"] if which == "unix" else daemons.env["DOCKSPEC_DOCKER_TCP"]
    port_map = detect_containers(env=daemons.detection_env(DOCKER_HOST=url))
    expected = expected_bindings(daemons, "docker")
    assert expected == {key: port_map[key].name for key in expected if key in port_map}
    assert {url} == {info.daemon for info in port_map.values()}
    others = tuple(p for p in daemons.prefixes() if p != daemons.prefix("docker") + "-")
    assert not any(info.name.startswith(others) for info in port_map.values())


@pytest.mark.parametrize("daemon", ["podman", "podman-rootless"])
def test_container_host_selects_that_daemon_alone(daemons: Daemons, daemon: str) -> None:
    """CONTAINER_HOST (how podman's users name a socket): that daemon's containers alone."""
    url = "unix://" + daemons.socket(daemon)
    port_map = detect_containers(env=daemons.detection_env(CONTAINER_HOST=url))
    expected = expected_bindings(daemons, daemon)
    assert expected
    assert expected == {key: port_map[key].name for key in expected if key in port_map}
    assert {url} == {info.daemon for info in port_map.values()}


def test_background_detection_matches_strict_detection(daemons: Daemons) -> None:
    env = daemons.detection_env()
    handle = start_detection(env=env)
    assert detect_containers(env=env) == await_detection(handle)


def test_a_frozen_daemon_does_not_hide_the_others(daemons: Daemons) -> None:
    """The rootless API service stopped (SIGSTOP) mid-run: the other daemons' containers still come back."""
    import psutil

    service = psutil.Process(int(daemons.env["DOCKSPEC_ROOTLESS_PID"]))
    # Rootless Podman re-executes itself inside its user namespace: freeze the child too.
    pids = [service.pid] + [child.pid for child in service.children(recursive=True)]
    env = daemons.detection_env()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        port_map = detect_containers(env=env, limits=Limits(deadline=1.0))
        background = await_detection(start_detection(env=env, limits=Limits(deadline=1.0)))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    for result in (port_map, background):
        names = {info.name for info in result.values()}
        assert {daemons.named("docker", "web")["name"], daemons.named("podman", "web")["name"]} <= names
        assert not any(name.startswith(daemons.prefix("podman-rootless") + "-") for name in names)


def run_throwaway(daemons: Daemons, daemon: str) -> tuple[str, str]:
    """Start a container that stops at once on SIGTERM; return (full id, name)."""
    name = f"ds-life-{daemon}-{uuid.uuid4().hex[:8]}"
    image = "bb:latest" if daemon == "docker" else "localhost/bb:latest"
    full_id = daemons.cli(
        daemon, "run", "-d", "--name", name, image, "sh", "-c", 'trap "exit 0" TERM; while :; do sleep 1; done'
    )
    return full_id.splitlines()[-1], name


def is_running(daemons: Daemons, daemon: str, name: str) -> bool:
    return "true" == daemons.cli(daemon, "inspect", "-f", "{{.State.Running}}", name)


@pytest.mark.parametrize("daemon", DAEMONS)
def test_stop_and_kill_on_real_containers(daemons: Daemons, daemon: str) -> None:
    """Running -> STOPPED (really stopped), stopped -> ALREADY_STOPPED for stop and kill, by name, short and full id."""
    env = daemons.detection_env()
    full_id, name = run_throwaway(daemons, daemon)
    try:
        assert is_running(daemons, daemon, name)
        assert StopOutcome.STOPPED == stop_container(name, env=env)
        assert not is_running(daemons, daemon, name)
        assert StopOutcome.ALREADY_STOPPED == stop_container(name, env=env)
        assert StopOutcome.ALREADY_STOPPED == stop_container(short_container_id(full_id), force=True, env=env)

        daemons.cli(daemon, "start", name)
        assert is_running(daemons, daemon, name)
        assert StopOutcome.STOPPED == stop_container(short_container_id(full_id), force=True, env=env)
        deadline = time.monotonic() + 10
        while is_running(daemons, daemon, name) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_running(daemons, daemon, name)

        daemons.cli(daemon, "start", name)
        assert StopOutcome.STOPPED == stop_container(full_id, env=env)
        assert not is_running(daemons, daemon, name)
        assert StopOutcome.ALREADY_STOPPED == stop_container(full_id, force=True, env=env)
    finally:
        daemons.cli(daemon, "rm", "-f", name, check=False)


@pytest.mark.parametrize("force", [False, True])
def test_unknown_and_unsafe_ids(daemons: Daemons, force: bool) -> None:
    env = daemons.detection_env()
    assert StopOutcome.NOT_FOUND == stop_container(f"no-such-container-{uuid.uuid4().hex[:8]}", force=force, env=env)
    with pytest.raises(InvalidContainerId):
        stop_container("dsd-web/../../containers", force=force, env=env)


def rootlessport_pids() -> dict[int, set[tuple[int, Protocol]]]:
    pids: dict[int, set[tuple[int, Protocol]]] = {}
    for name, pid, _ip, port, proto in helper_sockets():
        if name == "rootlessport":
            pids.setdefault(pid, set()).add((port, proto))
    return pids


def test_rootless_resolver_names_the_rootlessport_container(daemons: Daemons) -> None:
    """The real rootlessport pid resolves to its rootless container (its storage); a cache hit reads nothing."""
    by_port = {(p["host_port"], Protocol(p["protocol"])): c for c in daemons.running("podman-rootless")
               for p in c["ports"]}
    pids = rootlessport_pids()
    assert pids
    reader = FsReader()
    resolver = RootlessPodmanResolver(reader=reader)
    env = daemons.detection_env()
    checked = 0
    for pid, ports in pids.items():
        owners = {by_port[p]["name"] for p in ports if p in by_port}
        if len(owners) != 1:
            continue
        info = lookup_rootless_podman_container(pid, "rootlessport", resolver, env=env)
        assert isinstance(info, ContainerInfo)
        owner = by_port[next(p for p in ports if p in by_port)]
        assert (owner["id"], owner["name"]) == (info.id, info.name)
        reads = reader.reads
        assert info == lookup_rootless_podman_container(pid, "rootlessport", resolver, env=env)
        assert reads == reader.reads
        checked += 1
    # Podman 4.3: every rootless container's ports; Podman 5: only r5-net's
    # (a network of its own), pasta holds the default network's.
    assert checked >= {"debian12": 3, "forky": 1}[daemons.bed]
    assert lookup_rootless_podman_container(1, "systemd", resolver, env=env) is None
