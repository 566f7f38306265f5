"""Holders of published sockets beyond docker-proxy and conmon: pasta, rootlessport's id socket.

A fake /proc (tests.hostile.test_storage's Bed: a pid directory owned by an
unprivileged uid, its fd links, a stat line) and rootless storage in a
temporary directory, resolved through the real FsReader; the socket rules
through sockets.attribute with literal sockets. The pasta grammar itself is
checked by the vectors (spec/vectors/pasta.yaml).
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import attrs
import pytest

from dockspec import ContainerInfo, ContainerPortMap, Protocol, builtin_spec
from dockspec.models import Limits
from dockspec.podman import ids_of_unix_sockets, lookup_rootless_podman_container, socket_inodes
from dockspec.sockets import NO_CONTAINER, Attribution, HostSocket, attribute, unheld_bindings
from tests.fakedaemon import fake_daemon
from tests.hostile.test_storage import ID, NETNS, Bed, entry
from tests.test_cli import WEB_ID, docker_container, docker_list, run, run_json

SPEC = builtin_spec()
OTHER_NETNS = "/run/user/65534/netns/netns-other"
PASTA = ("/usr/bin/pasta", "--config-net", "-t", "62080-62080:80-80", "-u", "none", "--netns", NETNS)
UNIX_HEADER = "Num       RefCount Protocol Flags    Type St Inode Path\n"


@pytest.fixture
def bed(tmp_path: Path) -> Bed:
    b = Bed(tmp_path)
    b.index([entry(ID)])
    b.config(ID)
    return b


def fd(bed: Bed, pid: int, number: int, target: str) -> None:
    link = bed.proc / str(pid) / "fd" / str(number)
    link.symlink_to(target)


def unix_table(bed: Bed, where: str, lines: list[str]) -> None:
    path = bed.proc / where / "net" / "unix"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(UNIX_HEADER + "".join(line + "\n" for line in lines))


def unix_line(inode: int, path: str = "") -> str:
    return f"000000004e7c8550: 00000002 00000000 00010000 0005 01 {inode}" + (f" {path}" if path else "")


def resolve(bed: Bed, pid: int, name: str, cmdline: tuple[str, ...] = ()) -> ContainerInfo | None:
    return lookup_rootless_podman_container(pid, name, bed.resolver(), env=bed.env, cmdline=cmdline)


# ---------------------------------------------------------------- pasta


@pytest.mark.parametrize("name", ["pasta", "pasta.avx2", "pasta.avx512"])
def test_pasta_netns_from_its_command_line_names_the_container(bed: Bed, name: str) -> None:
    bed.process(100)
    assert ContainerInfo(ID, "web", "bb:latest") == resolve(bed, 100, name, PASTA)


def test_pasta_claiming_another_namespace_than_it_holds_names_nothing(bed: Bed) -> None:
    bed.process(100, netns=OTHER_NETNS)  # holds the other one open
    assert resolve(bed, 100, "pasta.avx2", PASTA) is None


def test_pasta_that_holds_no_namespace_file_is_read_by_its_claim(bed: Bed) -> None:
    bed.process(100, netns="/dev/null")
    assert ID == getattr(resolve(bed, 100, "pasta", PASTA), "id", None)


@pytest.mark.parametrize(
    "cmdline",
    [PASTA[:-2], (*PASTA, "--netns", OTHER_NETNS)],
    ids=["no --netns", "two --netns"],
)
def test_pasta_without_one_netns_flag_names_nothing(bed: Bed, cmdline: tuple[str, ...]) -> None:
    bed.process(100)
    assert resolve(bed, 100, "pasta", cmdline) is None


def test_pasta_storage_of_another_owner_is_not_believed(bed: Bed) -> None:
    bed.process(100, uid=0)  # root's pasta; the storage is nobody's
    assert resolve(bed, 100, "pasta", PASTA) is None


STORED = ContainerInfo(ID, "web", "bb:latest")
DETECTED = ContainerInfo(ID, "r5-web", "localhost/bb:latest", daemon="unix:///run/user/1002/podman/podman.sock")


def pasta_socket(cmdline: tuple[str, ...], port: int = 62080, protocol: Protocol = Protocol.TCP) -> HostSocket:
    return HostSocket(protocol, "::", port, 100, "pasta.avx2", cmdline)


def test_attribute_names_pasta_by_the_daemon_record_via_pasta() -> None:
    got = attribute(pasta_socket(PASTA), ContainerPortMap(), {ID: DETECTED}, SPEC, lambda pid, name: STORED)
    assert Attribution(DETECTED, via="pasta") == got


def test_pasta_whose_specs_do_not_cover_the_socket_names_nothing_not_even_by_fallback() -> None:
    """The shared rootless-netns pasta (-t none -u none) publishes nothing: no binding or fallback names its sockets."""
    shared = ("/usr/bin/pasta", "-t", "none", "-u", "none", "--netns", NETNS)
    port_map = ContainerPortMap({(None, 62080, Protocol.TCP): DETECTED})
    calls: list[int] = []

    def rootless(pid: int, name: str) -> ContainerInfo | None:
        calls.append(pid)
        return STORED

    assert NO_CONTAINER == attribute(pasta_socket(shared), port_map, {ID: DETECTED}, SPEC, rootless)
    assert NO_CONTAINER == attribute(pasta_socket(PASTA, port=62081), port_map, {ID: DETECTED}, SPEC, rootless)
    assert calls == []  # storage is not read for a socket pasta does not publish


def test_pasta_with_a_bad_spec_falls_back_to_the_bindings() -> None:
    bad = ("/usr/bin/pasta", "-t", "80-70", "--netns", NETNS)
    port_map = ContainerPortMap({(None, 62080, Protocol.TCP): DETECTED})
    got = attribute(pasta_socket(bad), port_map, {ID: DETECTED}, SPEC, lambda pid, name: STORED)
    assert Attribution(DETECTED, via="binding") == got


# ---------------------------------------------------------------- rootlessport's id socket


def test_socket_inodes_and_ids_of_unix_sockets() -> None:
    links = ["socket:[5]", "pipe:[6]", "socket:[77]", "socket:[x]", "socket:[\uff11]", "/dev/null"]
    assert {5, 77} == socket_inodes(links)
    table = (UNIX_HEADER + unix_line(5, f"/proc/self/fd/12/{ID}") + "\n" + unix_line(6, f"/x/{'b' * 64}") + "\n"
             + unix_line(77, "/run/user/1001/libpod/tmp/rootlessport1/.bp.sock") + "\n" + unix_line(78) + "\n")
    assert {ID} == ids_of_unix_sockets(table.encode(), {5, 77, 78})
    assert set() == ids_of_unix_sockets(b"garbage\n\xff\xfe 1 2 3 4 5 6 7\n", {5})


def test_rootlessport_named_by_its_id_socket_when_the_netns_names_nothing(bed: Bed) -> None:
    """Podman 5: rootlessport holds <tmpdir>/rp/<id>, bound as /proc/self/fd/N/<id> (seen on r5-net)."""
    bed.process(100, netns=OTHER_NETNS)  # a namespace no stored config names
    fd(bed, 100, 13, "socket:[3141702]")
    unix_table(bed, "self", [unix_line(3141702, f"/proc/self/fd/12/{ID}")])
    assert ContainerInfo(ID, "web", "bb:latest") == resolve(bed, 100, "rootlessport")


def test_id_socket_in_the_process_own_namespace_table(bed: Bed) -> None:
    bed.process(100, netns="/dev/null")
    fd(bed, 100, 13, "socket:[42]")
    unix_table(bed, "100", [unix_line(42, f"/run/user/65534/libpod/tmp/rp/{ID}")])
    assert ID == getattr(resolve(bed, 100, "rootlessport"), "id", None)


def test_id_socket_of_a_container_storage_does_not_list_is_still_its_id(bed: Bed) -> None:
    other = "c" * 64
    bed.process(100, netns="/dev/null")
    fd(bed, 100, 13, "socket:[42]")
    unix_table(bed, "self", [unix_line(42, f"/rp/{other}")])
    assert ContainerInfo(other, other[:12], "") == resolve(bed, 100, "rootlessport")


def test_netns_and_id_socket_that_disagree_name_nothing(bed: Bed) -> None:
    bed.process(100)  # NETNS: the stored container ID
    fd(bed, 100, 13, "socket:[42]")
    unix_table(bed, "self", [unix_line(42, f"/rp/{'c' * 64}")])
    assert resolve(bed, 100, "rootlessport") is None
    unix_table(bed, "self", [unix_line(42, f"/rp/{ID}")])
    assert ID == getattr(resolve(bed, 100, "rootlessport"), "id", None)


def test_podman_4_3_bp_sock_is_no_anchor(bed: Bed) -> None:
    """Podman 4.3's rootlessport holds rootlessport<N>/.bp.sock only (dsr-*, Debian 12 bed): the netns decides."""
    bed.process(100, netns="/dev/null")
    fd(bed, 100, 13, "socket:[42]")
    unix_table(bed, "self", [unix_line(42, "/run/user/1001/libpod/tmp/rootlessport3671859818/.bp.sock")])
    assert resolve(bed, 100, "rootlessport") is None


def test_id_socket_table_over_its_cap_is_not_read(bed: Bed, monkeypatch: pytest.MonkeyPatch) -> None:
    from dockspec._io import podman_fs

    monkeypatch.setattr(podman_fs, "MAX_UNIX_TABLE", 100)
    bed.process(100, netns="/dev/null")
    fd(bed, 100, 13, "socket:[42]")
    unix_table(bed, "self", [unix_line(42, f"/rp/{ID}")] * 5)
    resolver = bed.resolver(Limits(resolve_deadline=0.5))
    assert lookup_rootless_podman_container(100, "rootlessport", resolver, env=bed.env) is None
    assert any("net/unix" in r for r in resolver.reader.refusals)



# ---------------------------------------------------------------- bindings no process holds


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WEB = ContainerInfo("a" * 64, "web", "nginx:1", daemon="unix:///d.sock")
FAR = ContainerInfo("f" * 64, "far", "far:1", daemon="tcp://192.0.2.7:2375")


def test_unheld_bindings_are_those_no_socket_serves() -> None:
    port_map = ContainerPortMap({
        (None, 8080, Protocol.TCP): WEB,          # held on ::
        ("127.0.0.1", 8081, Protocol.TCP): WEB,   # held on 0.0.0.0 (every address serves it)
        ("127.0.0.1", 8082, Protocol.TCP): WEB,   # a socket on another address does not hold it
        (None, 8080, Protocol.UDP): WEB,          # tcp 8080 is no udp socket
        (None, 9000, Protocol.TCP): FAR,
    })
    sockets = [
        HostSocket(Protocol.TCP, "::", 8080),
        HostSocket(Protocol.TCP, "0.0.0.0", 8081),
        HostSocket(Protocol.TCP, "10.0.0.1", 8082),
    ]
    got = unheld_bindings(port_map, sockets, lambda info: info is WEB)
    assert [(None, 8080, Protocol.UDP), ("127.0.0.1", 8082, Protocol.TCP)] == sorted(
        (k for k, _ in got), key=lambda k: (k[1], k[2].value)
    )
    assert {(None, 9000, Protocol.TCP)} <= {k for k, _ in unheld_bindings(port_map, sockets)}


def ports_of(held: int, nobody: int) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]], set[int]]:
    """`ports --json`, `ports` and `ports --containers-only --json` against a daemon publishing both ports."""
    published = [("127.0.0.1", held, "tcp"), ("0.0.0.0", nobody, "tcp")]
    body = docker_list(docker_container(WEB_ID, "web", "nginx:1", published))
    with fake_daemon({("GET", "/containers/json"): body}) as fake:
        status, rows = run_json("ports", host=fake.url)
        text = run("ports", host=fake.url)
        only_status, only = run_json("ports", "--containers-only", host=fake.url)
    return rows, text.stdout, only, {status, text.returncode, only_status}


def test_ports_shows_a_binding_no_process_holds_as_unheld() -> None:
    """Kernel forwarding only (userland-proxy off): the daemon publishes a port no host socket holds."""
    listener = socket.create_server(("127.0.0.1", 0))
    tcp_port = listener.getsockname()[1]
    nobody = free_port()
    try:
        rows, text, only, statuses = ports_of(tcp_port, nobody)
    finally:
        listener.close()
    assert {0} == statuses
    unheld = [r for r in rows if r["via"] == "unheld"]
    assert [{"protocol": "tcp", "ip": None, "port": nobody, "pid": None, "process": None, "user": None,
             "container": unheld[0]["container"], "candidates": [], "via": "unheld"}] == unheld
    assert (WEB_ID, "web") == (unheld[0]["container"]["id"], unheld[0]["container"]["name"])
    assert unheld[0] in only
    held = [r for r in rows if r["port"] == tcp_port]
    assert ["binding"] == [r["via"] for r in held]  # the held one is no unheld row
    row = next(line for line in text.splitlines() if f"*:{nobody} " in line)
    assert "(unheld)" in row and " web " in row
    keys = [(r["port"], r["protocol"]) for r in rows]
    assert sorted(keys) == keys


# ---------------------------------------------------------------- who: the same attribution, with via


def who_json(target: str, published: list[tuple[str, int, str]]) -> tuple[int, list[dict[str, Any]]]:
    body = docker_list(docker_container(WEB_ID, "web", "nginx:1", published))
    with fake_daemon({("GET", "/containers/json"): body}) as fake:
        return run_json("who", target, host=fake.url)


def test_who_names_the_holder_of_a_real_socket_with_via() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        status, rows = who_json(str(port), [("127.0.0.1", port, "tcp")])
        addr_status, addr_rows = who_json(f"127.0.0.1:{port}", [("127.0.0.1", port, "tcp")])
    finally:
        listener.close()
    assert 0 == status == addr_status
    assert [(WEB_ID, "binding")] == [(r["id"], r["via"]) for r in rows] == [(r["id"], r["via"]) for r in addr_rows]


def test_who_of_a_binding_no_socket_holds_is_unheld() -> None:
    nobody = free_port()
    status, rows = who_json(str(nobody), [("0.0.0.0", nobody, "tcp")])
    assert 0 == status
    assert [(WEB_ID, "unheld")] == [(r["id"], r["via"]) for r in rows]


def test_who_by_the_proxy_fallback_says_so() -> None:
    """Published on one address only, asked for the port on any: the fallback (no socket holds it: unheld)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    nobody = free_port()
    try:
        held_status, held = who_json(str(port), [("10.9.9.9", port, "tcp")])
    finally:
        listener.close()
    status, unheld = who_json(str(nobody), [("10.9.9.9", nobody, "tcp")])
    # the listener (this process, no container's) names nothing, so the daemons' bindings decide
    assert (0, [(WEB_ID, "port-fallback")]) == (held_status, [(r["id"], r["via"]) for r in held])
    assert (0, [(WEB_ID, "unheld")]) == (status, [(r["id"], r["via"]) for r in unheld])


# ---------------------------------------------------------------- rootlesskit and the daemon's own sockets


RLD = ContainerInfo("d" * 64, "dsrl-web", "bb:latest", daemon="unix:///run/dockspec-rldocker/docker.sock")


def rootlesskit_socket(port: int = 47380, ip: str = "0.0.0.0") -> HostSocket:
    return HostSocket(Protocol.TCP, ip, port, 23671, "rootlesskit", ("rootlesskit", "--net=slirp4netns"))


def test_rootlesskit_names_only_its_daemons_bindings() -> None:
    port_map = ContainerPortMap({(None, 47380, Protocol.TCP): RLD})
    assert Attribution(RLD, via="rootlesskit") == attribute(rootlesskit_socket(), port_map, {RLD.id: RLD}, SPEC)
    assert Attribution(RLD, via="rootlesskit") == attribute(rootlesskit_socket(ip="::"), port_map, {}, SPEC)
    # no fallback: a binding on another address is not rootlesskit's
    other = ContainerPortMap({("127.0.0.1", 47380, Protocol.TCP): RLD})
    assert NO_CONTAINER == attribute(rootlesskit_socket(ip="10.0.0.1"), other, {}, SPEC)


def test_dockerd_holding_its_published_port_is_named_by_its_binding() -> None:
    """userland-proxy false: dockerd holds the port itself (Docker 20.10's reservation socket)."""
    web = ContainerInfo("e" * 64, "dsnp-web", "bb:latest", daemon="unix:///run/dockspec-noproxy-20.10/docker.sock")
    port_map = ContainerPortMap({(None, 47080, Protocol.TCP): web, ("10.9.9.9", 47081, Protocol.TCP): web})
    dockerd = HostSocket(Protocol.TCP, "0.0.0.0", 47080, 18403, "dockerd", ("dockerd", "--userland-proxy=false"))
    assert Attribution(web, via="binding") == attribute(dockerd, port_map, {}, SPEC)
    api = HostSocket(Protocol.TCP, "127.0.0.1", 47081, 18403, "dockerd")  # its API, say: no fallback to 10.9.9.9
    assert NO_CONTAINER == attribute(api, port_map, {}, SPEC)


def test_rootlesskit_is_named_only_by_the_daemon_its_own_user_serves() -> None:
    """Rootless Docker: rootlesskit run by uid U names a socket only through the daemon U serves (the trust rule)."""
    from dockspec.trust import DaemonFacts, Trust

    other = ContainerInfo("0" * 64, "root-web", "x", daemon="unix:///var/run/docker.sock")
    mine = "unix:///run/user/1001/docker.sock"
    trust = Trust(
        (
            DaemonFacts("unix:///var/run/docker.sock", 0, True, {(None, 47380, Protocol.TCP): other}, (other,)),
            DaemonFacts(mine, 1001, True, {(None, 47381, Protocol.TCP): RLD}, (RLD,)),
        ),
        {},
        0,
    )
    run_by = attrs.evolve(rootlesskit_socket(47381), uid=1001)
    assert Attribution(RLD, via="rootlesskit") == attribute(run_by, ContainerPortMap(), {}, SPEC, trust=trust)
    # root's daemon publishes 47380, but rootlesskit of uid 1001 is not its helper: nothing, no fallback
    assert NO_CONTAINER == attribute(attrs.evolve(rootlesskit_socket(47380), uid=1001), ContainerPortMap(), {},
                                     SPEC, trust=trust)
    # run by another user, uid 1001's daemon's binding names nothing
    assert NO_CONTAINER == attribute(attrs.evolve(rootlesskit_socket(47381), uid=1002), ContainerPortMap(), {},
                                     SPEC, trust=trust)


def test_pasta_command_line_of_too_many_entries_is_not_parsed_and_a_line_is_parsed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hostile pasta-named process: 2 MiB of port entries is refused before parsing; a good line is parsed once."""
    from dockspec import pasta

    calls: list[str] = []
    real = pasta.parse_forward
    monkeypatch.setattr(pasta, "parse_forward", lambda text: calls.append(text) or real(text))
    huge = ("pasta", "-t", ",".join(["80"] * 600_000), "--netns", NETNS)
    assert {None} == {pasta_publishes_of(huge, port) for port in range(1000, 1200)}
    assert [] == calls
    ok = ("pasta", "-t", ",".join(str(p) for p in range(1, pasta.MAX_ENTRIES + 1)), "-u", "none", "--netns", NETNS)
    assert {True} == {pasta_publishes_of(ok, port) for port in range(1, 201)}
    assert 1 == len(calls)  # 200 sockets, one parse


def pasta_publishes_of(cmdline: tuple[str, ...], port: int) -> bool | None:
    from dockspec.sockets import helper_for, pasta_publishes

    helper = helper_for("pasta", SPEC)
    assert helper is not None
    return pasta_publishes(helper, HostSocket(Protocol.TCP, "::", port, 1, "pasta", cmdline))
