"""Host sockets, and which container each one belongs to (for `dockspec ports`).

The attribution (`attribute` and its helpers) is pure: literal sockets and
containers in, an Attribution out, so every rule is unit-tested without a
daemon or /proc. `host_sockets()` and `cgroup_lookup()` are the only I/O;
psutil is imported lazily, so `import dockspec` never needs the `cli` extra.

Which process names are helpers, and how each one's container is found,
comes from the spec (spec/helpers.yaml), never from names written here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping

import attrs

from dockspec._generated.models import HelperProcess, Spec
from dockspec.addresses import parse_port
from dockspec.cgroups import CgroupMatch, is_container_id
from dockspec.errors import InvalidAddress
from dockspec.models import (
    Ambiguous,
    ContainerInfo,
    ContainerPortMap,
    Found,
    PortKey,
    Protocol,
    PublishedContainerMatch,
    container_sort_key,
)
from dockspec.pasta import publishes
from dockspec.ports import lookup_published_container
from dockspec.trust import Trust

__all__ = [
    "Attribution",
    "CgroupLookup",
    "HostSocket",
    "RootlessLookup",
    "attribute",
    "cgroup_lookup",
    "find_container",
    "flag_value",
    "helper_for",
    "host_sockets",
    "pasta_publishes",
    "lookup_trusted",
    "process_owner",
    "socket_table_owners",
    "sort_key",
    "unheld_bindings",
]

RootlessLookup = Callable[[int, str], ContainerInfo | None]
"""(pid, process name) -> the container a rootless port forwarder serves, or None."""

CgroupLookup = Callable[[int], CgroupMatch | None]
"""pid -> the container its /proc/PID/cgroup names, or None."""

# Attribution.via values: how the container was found.
VIA_BINDING = "binding"
VIA_FALLBACK = "port-fallback"
VIA_CGROUP = "cgroup"
VIA_ROOTLESSKIT = "rootlesskit"


@attrs.frozen
class HostSocket:
    """A listening TCP socket or a bound, unconnected UDP socket on the host.

    `pid`, `process` and `cmdline` are None/empty when the process is not
    visible to this user (another user's socket, without root). `uid` is
    the socket's owner: the holder process's uid (`process_owner`), else the
    uid column of the kernel's socket table; None when neither is known.
    """

    protocol: Protocol
    ip: str
    port: int
    pid: int | None = None
    process: str | None = None
    cmdline: tuple[str, ...] = ()
    uid: int | None = None


@attrs.frozen
class Attribution:
    """The socket's container (or the candidates, when several publish it) and how it was found.

    `via` is binding (exact or every-address binding), a helper's resolve
    kind from the spec (cmdline-id, cmdline-ports, rootless-netns, pasta), cgroup
    (the holder lives in the container's cgroup), or port-fallback (the one
    container publishing that port and protocol); None when nothing matched.
    `engine` is the cgroup form's engine when via is cgroup: a container no
    daemon listed (its `daemon` None, its name the short id) is then still
    shown as engine and short id.
    """

    container: ContainerInfo | None = None
    candidates: tuple[ContainerInfo, ...] = ()
    via: str | None = None
    engine: str | None = None


NO_CONTAINER = Attribution()


def helper_for(process: str | None, spec: Spec) -> HelperProcess | None:
    """The spec's helper record for a process name, if it is one."""
    if not process:
        return None
    for helper in spec.helpers:
        if helper.name == process:
            return helper
    return None


def flag_value(cmdline: Iterable[str], flag: str) -> str | None:
    """The value of `flag` in a command line: `flag VALUE` or `flag=VALUE`.

    Go's flag package (docker-proxy) accepts one or two leading dashes, so a
    single-dash long flag also matches its double-dash spelling.
    """
    spellings = {flag}
    if flag.startswith("-") and not flag.startswith("--") and len(flag) > 2:
        spellings.add("-" + flag)
    args = list(cmdline)
    for i, arg in enumerate(args):
        if arg in spellings:
            return args[i + 1] if i + 1 < len(args) else None
        name, sep, value = arg.partition("=")
        if sep and name in spellings:
            return value
    return None


def find_container(containers: Mapping[str, ContainerInfo], container_id: str) -> ContainerInfo | None:
    """The detected container with this id, or the only one whose id starts with it (or it with theirs)."""
    if not container_id:
        return None
    exact = containers.get(container_id)
    if exact is not None:
        return exact
    matches = {
        info
        for cid, info in containers.items()
        if cid and (cid.startswith(container_id) or container_id.startswith(cid))
    }
    return matches.pop() if len(matches) == 1 else None


def _by_helper(
    helper: HelperProcess,
    sock: HostSocket,
    port_map: ContainerPortMap,
    containers: Mapping[str, ContainerInfo],
    rootless: RootlessLookup | None,
    id_length: int,
    multi: Multi,
) -> Attribution | None:
    """What the helper's own evidence (command line, network namespace) says, if anything."""
    if helper.resolve == "cmdline-id" and helper.id_flag:
        value = flag_value(sock.cmdline, helper.id_flag)
        found = containers.get(value) if value and is_container_id(value, id_length) else None  # a full id only
        return Attribution(found, via=helper.resolve) if found is not None else None
    if helper.resolve == "cmdline-ports" and helper.port_flag:
        value = flag_value(sock.cmdline, helper.port_flag)
        try:
            port = parse_port(value) if value is not None else None  # ASCII digits, 1-65535 (not `²`)
        except InvalidAddress:
            port = None
        if port is None:
            return None
        # The listening address is the helper's host address (docker-proxy
        # binds exactly -host-ip); a spec'd ip_flag, when the schema has one, wins.
        ip_flag = getattr(helper, "ip_flag", None)
        ip = (flag_value(sock.cmdline, ip_flag) if isinstance(ip_flag, str) else None) or sock.ip
        match = _lookup(port_map, multi, ip, port, sock.protocol)
        if isinstance(match, Ambiguous):
            return Attribution(None, match.candidates, via=helper.resolve)
        return Attribution(match.container, via=helper.resolve) if isinstance(match, Found) else None
    if helper.resolve in (VIA_ROOTLESSKIT, VIA_BINDING):
        # The daemon holds the port itself (dockerd with userland-proxy false), or rootless
        # Docker's rootlesskit holds its daemon's ports and no other (port_map is then that
        # user's daemons' bindings): the binding on that address or every address, no fallback.
        match = _lookup(port_map, multi, sock.ip, sock.port, sock.protocol)
        if isinstance(match, Ambiguous):
            return Attribution(None, match.candidates, via=helper.resolve)
        return Attribution(match.container, via=helper.resolve) if isinstance(match, Found) else NO_CONTAINER
    if helper.resolve == "pasta":
        verdict = pasta_publishes(helper, sock)
        if verdict is False:
            return NO_CONTAINER  # its own specs do not forward this socket (`-t none -u none`: nothing)
        if verdict is None:
            return None  # a spec outside pasta's grammar: its evidence is not read
    if helper.resolve in ("rootless-netns", "pasta") and rootless is not None and sock.pid is not None and sock.process:
        info = rootless(sock.pid, sock.process)
        if info is None:
            return None
        # Prefer the daemon's record (its image name and daemon url) over storage metadata.
        return Attribution(containers.get(info.id) or info, via=helper.resolve)
    return None


def pasta_publishes(helper: HelperProcess, sock: HostSocket) -> bool | None:
    """Whether a pasta helper's command line forwards `sock` (its -t or -u specs); None: not readable."""
    tcp = helper.tcp_flags or ()
    own = tcp if sock.protocol is Protocol.TCP else (helper.udp_flags or ())
    return publishes(sock.cmdline, own, tcp, sock.protocol is Protocol.UDP, sock.ip, sock.port)


def _by_cgroup(
    sock: HostSocket,
    containers: Mapping[str, ContainerInfo],
    spec: Spec,
    cgroup: CgroupLookup,
    trust: Trust | None = None,
) -> Attribution | None:
    """The container whose cgroup the holder lives in: the detected one with that id, else engine and short id.

    With `trust`, a path in a subtree delegated to uid U (user@U.service)
    counts only for a container U's own daemon lists (and the holder must
    be one U's daemon speaks for); a root-controlled path names the id
    whatever lists it, with the record of a daemon trusted for the holder.
    """
    if sock.pid is None:
        return None
    match = cgroup(sock.pid)
    if match is None:
        return None
    listed = containers.get(match.id)
    if trust is not None and match.delegated is not None and (
        listed is None or not trust.own(listed.daemon, match.delegated)
    ):
        return None
    info = listed or ContainerInfo(match.id, match.id[: spec.wire.short_id_length], "")
    return Attribution(info, via=VIA_CGROUP, engine=match.engine)


Multi = Mapping[PortKey, tuple[ContainerInfo, ...]]
"""Bindings that several daemons claim, with every claimant (dockspec.trust.View.multi)."""


def _same_address(a: str | None, b: str) -> bool:
    if a is None or a == b:
        return True
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return False
    return (getattr(x, "ipv4_mapped", None) or x) == (getattr(y, "ipv4_mapped", None) or y)


def _lookup(
    port_map: ContainerPortMap, multi: Multi, ip: str | None, port: int, protocol: Protocol, fallback: bool = False
) -> PublishedContainerMatch:
    """lookup_published_container, made Ambiguous when the binding it found is one several daemons claim."""
    match = lookup_published_container(port_map, (ip, port), protocol, allow_proxy_fallback=fallback)
    if not multi or not isinstance(match, Found):
        return match
    claimants: set[ContainerInfo] = set()
    for (key_ip, key_port, key_protocol), infos in multi.items():
        same = key_port == port and key_protocol is protocol and match.container in infos
        if same and (fallback or ip is None or _same_address(key_ip, ip)):
            claimants.update(infos)
    if len(claimants) > 1:
        return Ambiguous(tuple(sorted(claimants, key=container_sort_key)))
    return match


def lookup_trusted(
    trust: Trust, ip: str | None, port: int, protocol: Protocol, fallback: bool = False
) -> PublishedContainerMatch:
    """A published-port lookup (as lookup_published_container) over what the daemons trusted for a socket
    no visible process holds may name (`trust.view(None)`: root's daemons, daemons without peer
    credentials, the caller's own); a binding several of them claim is Ambiguous."""
    view = trust.view(None)
    return _lookup(view.port_map, view.multi, ip, port, protocol, fallback)


def attribute(
    sock: HostSocket,
    port_map: ContainerPortMap,
    containers: Mapping[str, ContainerInfo],
    spec: Spec,
    rootless: RootlessLookup | None = None,
    cgroup: CgroupLookup | None = None,
    trust: Trust | None = None,
) -> Attribution:
    """Which container owns `sock`.

    Order: a helper's own evidence (conmon's container id, docker-proxy's
    host port, rootlessport's network namespace, pasta's network namespace
    once its -t/-u specs cover the socket; a pasta whose specs do not cover
    it names nothing); for a process that is no
    helper, the container whose cgroup it lives in (a host-network
    container's own process); then the published binding on that exact
    address or on every address; then, for helper processes only, the proxy
    fallback (the one container publishing that port and protocol anywhere),
    which may be ambiguous. `containers` maps container ids to the detected
    containers.

    With `trust` (dockspec.trust), `port_map` and `containers` are replaced
    by what the daemons trusted for the socket's holder (`sock.uid`) name:
    a rootful helper not run by root names nothing, a rootless helper only
    its own uid's daemon's containers, and a binding two daemons claim is
    ambiguous. A `conmon -c` id must be a full id.
    """
    helper = helper_for(sock.process, spec)
    multi: Multi = {}
    if trust is not None:
        if helper is not None and not trust.helper_fits(helper, sock.uid):
            return NO_CONTAINER
        view = trust.view(sock.uid, own=helper is not None)
        port_map, containers, multi = view.port_map, view.containers, view.multi
    if helper is not None:
        hit = _by_helper(helper, sock, port_map, containers, rootless, spec.cgroups.id_length, multi)
        if hit is not None:
            return hit
    elif cgroup is not None:
        hit = _by_cgroup(sock, containers, spec, cgroup, trust)
        if hit is not None:
            return hit
    match = _lookup(port_map, multi, sock.ip, sock.port, sock.protocol)
    if isinstance(match, Found):
        return Attribution(match.container, via=VIA_BINDING)
    if isinstance(match, Ambiguous):
        return Attribution(None, match.candidates, via=VIA_BINDING)
    if helper is None:
        return NO_CONTAINER
    match = _lookup(port_map, multi, None, sock.port, sock.protocol, fallback=True)
    if isinstance(match, Found):
        return Attribution(match.container, via=VIA_FALLBACK)
    if isinstance(match, Ambiguous):
        return Attribution(None, match.candidates, via=VIA_FALLBACK)
    return NO_CONTAINER


def _serves(sock: HostSocket, key: PortKey) -> bool:
    """Whether a host socket holds binding `key`: same port and protocol, and its address or every address."""
    ip, port, protocol = key
    if sock.port != port or sock.protocol is not protocol:
        return False
    if ip is None or sock.ip == ip:
        return True
    try:
        held = ipaddress.ip_address(sock.ip)
        return held.is_unspecified or held == ipaddress.ip_address(ip)
    except ValueError:
        return False


def unheld_bindings(
    port_map: ContainerPortMap, sockets: Iterable[HostSocket], include: Callable[[ContainerInfo], bool] | None = None
) -> list[tuple[PortKey, ContainerInfo]]:
    """The published bindings no host socket holds (kernel forwarding only), sorted as sockets are.

    A binding on every address (ip None) is held by any socket on its port
    and protocol; one on an address by a socket on that address or on every
    address. `include` picks the containers whose bindings count (a remote
    daemon's are published on another host).
    """
    by_port: dict[tuple[int, Protocol], list[HostSocket]] = {}
    for sock in sockets:
        by_port.setdefault((sock.port, sock.protocol), []).append(sock)
    result = [
        (key, info)
        for key, info in port_map.items()
        if (include is None or include(info)) and not any(_serves(s, key) for s in by_port.get((key[1], key[2]), ()))
    ]
    result.sort(key=lambda item: sort_key(HostSocket(item[0][2], item[0][0] or "", item[0][1])))
    return result


def sort_key(sock: HostSocket) -> tuple[int, str, int, bytes, str, int]:
    """Port, then protocol, then address (IPv4 before IPv6, numerically), then pid."""
    family, packed = 99, b""
    try:
        address = ipaddress.ip_address(sock.ip)
    except ValueError:
        pass
    else:
        family, packed = address.version, address.packed
    return (sock.port, sock.protocol.value, family, packed, sock.ip, -1 if sock.pid is None else sock.pid)


def cgroup_lookup(spec: Spec, proc: str = "/proc") -> CgroupLookup:
    """A CgroupLookup reading `proc`/PID/cgroup (bounded by the spec's max_bytes), once per pid."""
    from dockspec._io.procs import read_cgroup
    from dockspec.cgroups import container_of_cgroup

    rules = spec.cgroups
    cache: dict[int, CgroupMatch | None] = {}

    def lookup(pid: int) -> CgroupMatch | None:
        if pid not in cache:
            text = read_cgroup(pid, rules.max_bytes, proc)
            cache[pid] = None if text is None else container_of_cgroup(text, rules)
        return cache[pid]

    return lookup


def process_owner(real: int, effective: int) -> int:
    """The uid a process runs as, for trust: its real and effective uid agree, else the one that is not root.

    A set-uid program a user started (real U, effective 0) is that user's:
    they chose its name (a link's name) and its command line.
    """
    if real == effective:
        return real
    return real if real != 0 else effective


SOCKET_TABLES = ((Protocol.TCP, "tcp"), (Protocol.TCP, "tcp6"), (Protocol.UDP, "udp"), (Protocol.UDP, "udp6"))
MAX_SOCKET_TABLE_BYTES = 32 * 1024 * 1024
"""One /proc/net table at most (a line is 150 bytes: some 200 000 sockets)."""


def socket_table_owners(proc: str = "/proc") -> dict[tuple[Protocol, str, int], set[int]]:
    """(protocol, ip, port) -> the uids owning such a socket, from the kernel's tables (nothing when unreadable)."""
    import os
    import sys

    from dockspec._io.procs import read_proc_file
    from dockspec.procnet import parse_socket_table

    owners: dict[tuple[Protocol, str, int], set[int]] = {}
    for protocol, name in SOCKET_TABLES:
        text = read_proc_file(os.path.join(proc, "net", name), MAX_SOCKET_TABLE_BYTES)
        if text is None:
            continue
        for key, uids in parse_socket_table(text, protocol, byteorder=sys.byteorder).items():
            owners.setdefault(key, set()).update(uids)
    return owners


def host_sockets() -> list[HostSocket]:
    """Every listening TCP and bound unconnected UDP socket on the host, sorted, each once.

    Needs psutil (the `cli` extra). A process that vanished or is not ours to
    read keeps its socket, without name or command line.
    """
    import socket

    import psutil

    processes: dict[int, tuple[str | None, tuple[str, ...], int | None]] = {}

    def describe(pid: int) -> tuple[str | None, tuple[str, ...], int | None]:
        if pid not in processes:
            name: str | None = None
            cmdline: tuple[str, ...] = ()
            uid: int | None = None
            try:
                proc = psutil.Process(pid)
                uids = proc.uids()
                uid = process_owner(uids.real, uids.effective)
                name = proc.name() or None
                cmdline = tuple(proc.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError, AttributeError):
                pass
            processes[pid] = (name, cmdline, uid)
        return processes[pid]

    table: dict[tuple[Protocol, str, int], set[int]] | None = None

    seen: set[tuple[Protocol, str, int, int | None]] = set()
    result = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.type == socket.SOCK_STREAM:
            if conn.status != psutil.CONN_LISTEN:
                continue
            protocol = Protocol.TCP
        elif conn.type == socket.SOCK_DGRAM:
            if conn.raddr:
                continue
            protocol = Protocol.UDP
        else:
            continue
        if not conn.laddr:
            continue
        ip, port = conn.laddr.ip, conn.laddr.port
        key = (protocol, ip, port, conn.pid)
        if key in seen:
            continue
        seen.add(key)
        name, cmdline, uid = describe(conn.pid) if conn.pid is not None else (None, (), None)
        if uid is None:  # no visible holder: the kernel's table says who owns the socket, when one uid does
            if table is None:
                table = socket_table_owners()
            uids = table.get((protocol, ip, port), set())
            uid = next(iter(uids)) if len(uids) == 1 else None
        result.append(HostSocket(protocol, ip, port, conn.pid, name, cmdline, uid))
    result.sort(key=sort_key)
    return result
