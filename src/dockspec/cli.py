"""The `dockspec` command: which container owns this host port?

Subcommands: ports, ps, who, stop, kill, endpoints; `--json` on each prints a
list of objects (docs/cli.md). EXIT_STATUSES is the one table of exit
statuses: what each means (printed by --help) and the errors that end in it.
Only `import dockspec.cli` loads this module (never `import dockspec`); each
command imports what it needs when it runs (psutil for `ports` alone).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from dockspec.env import Env, _platform_family
from dockspec.errors import (
    AmbiguousContainer,
    ContextError,
    DaemonNotFound,
    InvalidAddress,
    InvalidContainerId,
    InvalidDockerHost,
    InvalidResponse,
)
from dockspec.models import Ambiguous, ContainerInfo, Found, PortKey, Protocol, StopOutcome

if TYPE_CHECKING:
    from dockspec.detect import DaemonReport, Detection
    from dockspec.events import PortMapChange
    from dockspec.live import Watch
    from dockspec.sockets import Attribution, HostSocket
    from dockspec.trust import Trust

__all__ = ["EXIT_STATUSES", "main", "parse_target"]


class UsageError(Exception):
    """An argument argparse let through but the command cannot use (a `who` target)."""


class MissingPsutil(Exception):
    """`dockspec ports` without the `cli` extra."""


EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_AMBIGUOUS = 2
EXIT_USAGE = 2
EXIT_NO_DAEMON = 3
EXIT_NO_PSUTIL = 4
EXIT_AMBIGUOUS_CONTAINER = 5
EXIT_INTERRUPTED = 130

# Every exit status: what it means (--help prints this) and the errors that end
# a command with it. A command's own answer (found, not found, ambiguous,
# stopped) is a status it returns; an error is looked up here, first match wins.
EXIT_STATUSES: tuple[tuple[int, str, tuple[type[BaseException], ...]], ...] = (
    (EXIT_OK, "ok", ()),
    (EXIT_NOT_FOUND, "no container / stop failed", ()),
    (EXIT_USAGE, "ambiguous, unsafe id or usage error", (UsageError, InvalidContainerId)),
    (
        EXIT_NO_DAEMON,
        "no daemon answered usefully, or DOCKER_HOST or a context is invalid",
        (InvalidDockerHost, ContextError, DaemonNotFound, InvalidResponse),
    ),
    (EXIT_NO_PSUTIL, "`ports` without psutil (pip install 'dockspec[cli]')", (MissingPsutil,)),
    (EXIT_AMBIGUOUS_CONTAINER, "stop/kill: more than one daemon knows the name; nothing stopped (pick one: --daemon)",
     (AmbiguousContainer,)),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)", (KeyboardInterrupt,)),
)

# Errors about daemons not answering: the message is followed by this hint.
HINT = "hint: run `dockspec endpoints` to see what was tried"
_HINTED = (ContextError, DaemonNotFound, InvalidResponse)

EPILOG = """\
examples:
  dockspec ports                    every listening socket, with its container
  dockspec ports --containers-only  only the sockets a container owns
  dockspec ps                       running containers of every daemon
  dockspec who 8080                 which container publishes tcp port 8080?
  dockspec who 127.0.0.1:5353/udp   ... udp port 5353 on 127.0.0.1?
  dockspec who '[::1]:8080'         ... an IPv6 address, in brackets
  dockspec stop web                 stop a container by name or id (kill: SIGKILL)
  dockspec endpoints                every socket tried, and why each failed
  dockspec ps --json                machine-readable (shapes: docs/cli.md)

DOCKER_HOST, when set, names the one daemon to use. XDG_RUNTIME_DIR decides
where rootless Podman's and Docker's sockets are looked for.

exit status:
""" + "".join(f"  {status:<3}  {meaning}\n" for status, meaning, _ in EXIT_STATUSES)


def _status_of(exc: BaseException) -> int | None:
    for status, _, errors in EXIT_STATUSES:
        if isinstance(exc, errors):
            return status
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _message(exc: BaseException) -> str:
    """One line, where str() of an address error has three (value and caret): its summary instead."""
    if isinstance(exc, InvalidDockerHost):
        return f"invalid DOCKER_HOST: {_one_line(exc.summary())}"
    if isinstance(exc, InvalidAddress):
        return _one_line(exc.summary())
    return _one_line(str(exc))


# Bidi embeddings, overrides and isolates: printable, yet they reorder the line.
_BIDI = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _safe(text: str) -> str:
    """Daemon-supplied text for a terminal: controls, DEL, C1 and bidi overrides escaped.

    A container name is the daemon's to choose; raw, an escape sequence or a
    CR LF could repaint the terminal or forge rows. JSON keeps names verbatim.
    """
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    out = []
    for ch in text:
        if ch.isprintable() and ch not in _BIDI:
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _usable(detection: Detection, err: TextIO) -> Detection:
    """The library's detection, as is: its error when nothing answered, a warning on `err` per failed endpoint."""
    if not detection.ok:
        raise detection.error()
    for report in detection.reports:
        if not report.ok:
            print(_safe(f"dockspec: warning: {report.endpoint.url}: {_one_line(report.error or '')}"), file=err)
    return detection


def _detect(env: Env, err: TextIO) -> Detection:
    from dockspec.detect import detect_daemons

    return _usable(detect_daemons(env=env), err)


# ---------------------------------------------------------------- formatting


MAX_CELL = 200
"""Characters of one text-table cell at most; longer ones end in an ellipsis (`--json` has them whole)."""
ELLIPSIS = "\u2026"


def _cell(value: object) -> str:
    """One cell: escaped for the terminal (_safe), cut to MAX_CELL characters with an ellipsis."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > MAX_CELL
    text = _safe(text[:MAX_CELL] if cut else text)  # cut first: a 2^20-character name is never escaped whole
    if cut or len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + ELLIPSIS
    return text


def _row(row: Sequence[object], columns: int) -> list[str]:
    """A row's cells, exactly `columns` of them; a row that cannot be rendered is one `?` row, not an abort."""
    try:
        cells = [_cell(cell) for cell in row]
    except Exception:
        cells = ["?"]
    return (cells + ["-"] * columns)[:columns]


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns padded to their widest cell (at most MAX_CELL); the last column is not padded."""
    all_rows = [list(headers), *[_row(r, len(headers)) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    lines = []
    for row in all_rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _address(ip: str | None, port: int) -> str:
    if ip is None:
        return f"*:{port}"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _container_json(info: ContainerInfo, engines: dict[str, str], engine: str | None = None) -> dict[str, Any]:
    """`engine`: for a container no daemon listed, the engine its cgroup form names."""
    return {
        "id": info.id,
        "name": info.name,
        "image": info.image,
        "daemon": info.daemon,
        "engine": engines.get(info.daemon) if info.daemon else engine,
        "compose": _compose_json(info),
    }


def _compose_json(info: ContainerInfo) -> dict[str, Any] | None:
    """`{"project", "service", "number"}` of every container object, or None (issue 13)."""
    c = info.compose
    return None if c is None else {"project": c.project, "service": c.service, "number": c.number}


def _compose_text(info: ContainerInfo) -> str:
    """`project/service` (`project` when no service label), `-` outside compose."""
    return "-" if info.compose is None else str(info.compose)


def _print_json(rows: list[dict[str, Any]], out: TextIO) -> None:
    import json

    out.write(json.dumps(rows, indent=2) + "\n")


def _short(container_id: str) -> str:
    return container_id[:12]


# ---------------------------------------------------------------- commands


def _attributions(
    sockets: Iterable[HostSocket], detection: Detection, env: Env, trust: Trust | None = None
) -> list[tuple[HostSocket, Attribution]]:
    """Each socket with its container: helper evidence, cgroup, binding, fallback (dockspec.sockets.attribute)."""
    from dockspec.detect import trust_of
    from dockspec.podman import RootlessPodmanResolver, lookup_rootless_podman_container
    from dockspec.sockets import Attribution, attribute, cgroup_lookup
    from dockspec.spec import builtin_spec

    spec = builtin_spec()
    resolver = RootlessPodmanResolver(spec=spec)
    cgroup = cgroup_lookup(spec)
    if trust is None:
        trust = trust_of(detection, env)  # what each daemon may name, by who serves it (docs/security.md)

    sockets = list(sockets)
    cmdlines = {s.pid: s.cmdline for s in sockets if s.pid is not None}

    def rootless(pid: int, name: str) -> ContainerInfo | None:
        return lookup_rootless_podman_container(pid, name, resolver, env=env, cmdline=cmdlines.get(pid, ()))

    def attributed(sock: HostSocket) -> Attribution:
        try:
            return attribute(sock, detection.port_map, detection.containers, spec, rootless, cgroup, trust)
        except Exception:  # one socket's evidence that cannot be read: that row unnamed, the table goes on
            return Attribution()

    return [(s, attributed(s)) for s in sockets]


def _holder_name(a: Attribution, container: ContainerInfo) -> str:
    """The container's name; one no daemon listed (found by cgroup) as engine and short id."""
    if container.daemon is None and a.engine:
        return f"{a.engine} {container.name}"
    return container.name


# The PROCESS cell of a published binding no host socket holds (kernel forwarding only).
UNHELD_CELL = "(unheld)"
VIA_UNHELD = "unheld"


def _unheld(sockets: list[HostSocket], trust: Trust) -> list[tuple[PortKey, ContainerInfo]]:
    """The published bindings no host socket holds, of the daemons trusted to name one (dockspec.sockets).

    `trust.view(None)`: root's daemons, local daemons without peer
    credentials, the caller's own; a user's daemon (for root) or a remote
    one names no unheld binding.
    """
    from dockspec.sockets import unheld_bindings

    return unheld_bindings(trust.view(None).port_map, sockets)


def _user_names() -> Callable[[int | None], str]:
    """uid -> its user name (the password database), else the uid as digits; `-` for None. Cached per uid."""
    names: dict[int, str] = {}

    def name(uid: int | None) -> str:
        if uid is None:
            return "-"
        if uid not in names:
            try:
                import pwd

                names[uid] = pwd.getpwuid(uid).pw_name or str(uid)
            except (ImportError, KeyError, OverflowError):
                names[uid] = str(uid)
        return names[uid]

    return name


# The one stderr line of `ports` when no daemon answered: it still lists every socket.
NO_DAEMON_LINE = "dockspec: no daemon answered; only the host's own evidence names containers (" + HINT + ")"


def cmd_ports(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Every listening socket, named by its container (helper evidence, cgroup, exact, wildcard, fallback).

    With no daemon answering it still lists every socket (exit 0), says so in
    one line on `err`, and names what the host's own evidence can: cgroup
    (engine and short id), rootless Podman's storage.
    """
    try:
        import psutil  # noqa: F401  (the `cli` extra; checked before any daemon is asked)
    except ImportError:
        raise MissingPsutil("`dockspec ports` needs psutil: pip install 'dockspec[cli]'") from None
    from dockspec.detect import begin_detection, trust_of
    from dockspec.sockets import host_sockets

    if args.watch:
        if args.json:
            print("dockspec: ports --watch draws a table; for JSON use `dockspec events --json`", file=err)
            return EXIT_USAGE
        return _ports_watch(args, env, out, err)
    pending = begin_detection(env=env)  # the daemons answer while this thread lists the host's sockets
    sockets = host_sockets()
    detection = pending.detection()
    if detection.ok:
        _usable(detection, err)
    else:
        print(NO_DAEMON_LINE, file=err)
    trust = trust_of(detection, env)  # what each daemon may name, by who serves it (docs/security.md)
    rows = _ports_rows(args, sockets, detection, env, trust)
    unheld = [(key, info) for key, info in _unheld(sockets, trust) if _wanted(args, key[2], key[1])]
    user = _user_names()
    if args.json:
        objects = [
            {
                "protocol": sock.protocol.value,
                "ip": sock.ip,
                "port": sock.port,
                "pid": sock.pid,
                "process": sock.process,
                "user": None if sock.uid is None else user(sock.uid),
                "container": _container_json(a.container, detection.engines, a.engine) if a.container else None,
                "candidates": [_container_json(c, detection.engines) for c in a.candidates],
                "via": a.via,
            }
            for sock, a in rows
        ]
        objects += [
            {
                "protocol": protocol.value,
                "ip": ip,
                "port": port,
                "pid": None,
                "process": None,
                "user": None,
                "container": _container_json(info, detection.engines),
                "candidates": [],
                "via": VIA_UNHELD,
            }
            for (ip, port, protocol), info in unheld
        ]
        objects.sort(key=lambda o: (o["port"], o["protocol"]))  # stable: each port's unheld rows after its sockets
        _print_json(objects, out)
        return EXIT_OK
    print(_ports_table(rows, unheld), file=out)
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and geteuid() != 0 and any(sock.pid is None for sock, _ in rows):
        print("dockspec: some sockets' processes are not visible to this user (run as root to see them)", file=err)
    return EXIT_OK


def _wanted(args: argparse.Namespace, protocol: Protocol, port: int) -> bool:
    """PORT and --tcp/--udp (ss's -t/-u: both or neither mean both)."""
    if args.port is not None and port != args.port:
        return False
    return (not args.tcp and not args.udp) or (args.tcp and protocol is Protocol.TCP) or (
        args.udp and protocol is Protocol.UDP
    )


def _ports_rows(
    args: argparse.Namespace, sockets: Iterable[HostSocket], detection: Detection, env: Env, trust: Trust
) -> list[tuple[HostSocket, Attribution]]:
    """The sockets `ports` shows: PORT, --tcp/--udp, --containers-only."""
    chosen = [s for s in sockets if _wanted(args, s.protocol, s.port)]
    return [
        (sock, found)
        for sock, found in _attributions(chosen, detection, env, trust)
        if not args.containers_only or found.container is not None or found.candidates
    ]


def _ports_table(
    rows: list[tuple[HostSocket, Attribution]], unheld: Iterable[tuple[PortKey, ContainerInfo]] = ()
) -> str:
    user = _user_names()
    table: list[tuple[tuple[int, str], list[str]]] = []
    for sock, a in rows:
        if a.container is not None:
            name, image = _holder_name(a, a.container), a.container.image or "-"
        elif a.candidates:
            name, image = "one of " + ", ".join(c.name for c in a.candidates), "-"
        else:
            name = image = "-"
        pid = "-" if sock.pid is None else str(sock.pid)
        address = _address(sock.ip, sock.port)
        cells = [sock.protocol.value, address, pid, user(sock.uid), sock.process or "-", name, image]
        table.append(((sock.port, sock.protocol.value), cells))
    for (ip, port, protocol), info in unheld:
        cells = [protocol.value, _address(ip, port), "-", "-", UNHELD_CELL, info.name, info.image or "-"]
        table.append(((port, protocol.value), cells))
    table.sort(key=lambda row: row[0])  # stable, as the JSON
    headers = ["PROTO", "LOCAL ADDRESS", "PID", "USER", "PROCESS", "CONTAINER", "IMAGE"]
    return _table(headers, [cells for _, cells in table])


# ANSI: cursor home, then clear the screen (only written to a terminal).
CLEAR = "\x1b[H\x1b[2J"
WATCH_REFRESH = 1.0
"""Seconds `ports --watch` waits for a change before it looks at the host's sockets again."""


def _watch_detection(live: Watch) -> Detection:
    """The watch's map as a Detection, for the attribution `ports` does (containers: those with bindings)."""
    from dockspec.detect import Detection

    port_map = live.port_map
    return Detection(live.reports(), False, port_map, {c.id: c for c in port_map.containers()}, dict(live.engines))


def _ports_watch(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """`ports --watch`: the table again whenever the port map or the host's sockets change; Ctrl-C ends it."""
    from dockspec.detect import trust_of
    from dockspec.live import watch
    from dockspec.sockets import host_sockets

    tty = out.isatty()
    shown = None
    with watch(env=env) as live:
        live.get(min(1.0, WATCH_REFRESH))  # the first lists, so the first table names containers
        while True:
            detection = _watch_detection(live)
            trust = trust_of(detection, env)  # as `ports`: each daemon names only what it may (docs/security.md)
            sockets = host_sockets()
            unheld = [(key, info) for key, info in _unheld(sockets, trust) if _wanted(args, key[2], key[1])]
            text = _ports_table(_ports_rows(args, sockets, detection, env, trust), unheld)
            if text != shown:
                out.write((CLEAR if tty else ("\n" if shown is not None else "")) + text + "\n")
                out.flush()
                shown = text
            live.get(WATCH_REFRESH)
            while live.get(0.05) is not None:  # a burst of changes: one redraw
                pass


def _change_lines(change: PortMapChange, engines: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON objects of one change: each binding removed, then each added (docs/cli.md)."""
    return [
        {
            "change": kind,
            "protocol": key[2].value,
            "ip": key[0],
            "port": key[1],
            "container": _container_json(info, engines),
            "daemon": info.daemon,
        }
        for kind, bindings in (("removed", change.removed), ("added", change.added))
        for key, info in bindings
    ]


def cmd_events(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """One line per published socket that comes or goes, until Ctrl-C (the first lines: what is published now)."""
    import json

    from dockspec.live import watch

    with watch(env=env) as live:
        for change in live:
            for item in _change_lines(change, dict(live.engines)):
                if args.json:
                    out.write(json.dumps(item) + "\n")
                else:
                    name = item["container"]["name"]
                    image = item["container"]["image"] or "-"
                    row = [item["change"], item["protocol"], _address(item["ip"], item["port"]), name, image,
                           item["daemon"] or "-"]
                    out.write("  ".join(_cell(cell) for cell in row) + "\n")
            out.flush()
    return EXIT_OK


def _ports_of(report: DaemonReport) -> dict[str, list[PortKey]]:
    by_id: dict[str, list[PortKey]] = {}
    for key, info in report.bindings.items():
        by_id.setdefault(info.id, []).append(key)
    for keys in by_id.values():
        keys.sort(key=lambda k: (k[1], k[2].value, k[0] or ""))
    return by_id


def _port_ranges(keys: list[PortKey]) -> str:
    """`*:8200-8203/tcp, 127.0.0.1:8081/tcp`: consecutive ports on one address and protocol folded."""
    groups: dict[tuple[str | None, Protocol], list[int]] = {}
    for ip, port, protocol in keys:
        groups.setdefault((ip, protocol), []).append(port)
    parts = []
    for (ip, protocol), ports in groups.items():
        ports.sort()
        host = "*" if ip is None else (f"[{ip}]" if ":" in ip else ip)
        runs: list[list[int]] = []
        for port in ports:
            if runs and port == runs[-1][1] + 1:
                runs[-1][1] = port
            else:
                runs.append([port, port])
        for start, end in runs:
            span = str(start) if start == end else f"{start}-{end}"
            parts.append(f"{host}:{span}/{protocol.value}")
    return ", ".join(parts)


def cmd_ps(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Running containers of every daemon that answered, with their published ports."""
    detection = _detect(env, err)
    rows: list[tuple[DaemonReport, ContainerInfo, list[PortKey]]] = []
    for report in detection.reports:
        if not report.ok:
            continue
        ports = _ports_of(report)
        for info in sorted(report.containers, key=lambda c: (c.name, c.id)):
            rows.append((report, info, ports.get(info.id, [])))
    if args.json:
        _print_json(
            [
                {
                    "id": info.id,
                    "name": info.name,
                    "image": info.image,
                    "daemon": report.endpoint.url,
                    "engine": report.engine,
                    "version": report.version,
                    "compose": _compose_json(info),
                    "ports": [{"ip": ip, "port": port, "protocol": proto.value} for ip, port, proto in keys],
                }
                for report, info, keys in rows
            ],
            out,
        )
        return EXIT_OK
    table = [
        [
            info.name,
            _short(info.id),
            info.image or "-",
            _compose_text(info),
            _port_ranges(keys) or "-",
            f"{report.endpoint.url} ({report.engine or 'unknown'})",
        ]
        for report, info, keys in rows
    ]
    print(_table(["NAME", "ID", "IMAGE", "COMPOSE", "PORTS", "DAEMON"], table), file=out)
    return EXIT_OK


def parse_target(text: str) -> tuple[str | None, int, Protocol]:
    """`PORT[/udp]`, `ADDR:PORT[/proto]` or `[V6]:PORT[/proto]` as (ip or None, port, protocol).

    The one address grammar (dockspec.addresses); InvalidAddress, a
    ValueError whose message shows a caret under the fault.
    """
    from dockspec.addresses import parse_port_target

    return parse_port_target(text)


def _sockets_on(ip: str | None, port: int, protocol: Protocol) -> list[HostSocket] | None:
    """The host's sockets on that port (a socket on every address serves any ADDR); None without psutil."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        return None
    import ipaddress

    from dockspec.sockets import host_sockets

    def serves(sock_ip: str) -> bool:
        if ip is None:
            return True
        try:
            address = ipaddress.ip_address(sock_ip)
            return address.is_unspecified or address == ipaddress.ip_address(ip)
        except ValueError:
            return False

    return [s for s in host_sockets() if s.port == port and s.protocol is protocol and serves(s.ip)]


def _holders(
    sockets: list[HostSocket], detection: Detection, env: Env, trust: Trust
) -> dict[str, tuple[ContainerInfo, Attribution]]:
    """The containers `sockets` belong to, attributed as `ports` does: id -> (container, attribution).

    A socket whose attribution is only candidates (the proxy fallback's
    ambiguity) names none here.
    """
    held: dict[str, tuple[ContainerInfo, Attribution]] = {}
    for _, a in _attributions(sockets, detection, env, trust):
        if a.container is not None:
            held.setdefault(a.container.id, (a.container, a))
    return held


def _published(
    ip: str | None, port: int, protocol: Protocol, trust: Trust
) -> tuple[Found | Ambiguous | None, str]:
    """The trusted daemons' published binding for the target, and how: binding (that address or every one)
    or port-fallback; a binding two daemons claim is Ambiguous (dockspec.sockets.lookup_trusted)."""
    from dockspec.sockets import lookup_trusted

    direct = lookup_trusted(trust, ip, port, protocol)
    if isinstance(direct, (Found, Ambiguous)) or ip is not None:
        return (direct if isinstance(direct, (Found, Ambiguous)) else None), VIA_BINDING
    match = lookup_trusted(trust, None, port, protocol, fallback=True)
    return (match if isinstance(match, (Found, Ambiguous)) else None), VIA_FALLBACK


VIA_BINDING = "binding"
VIA_FALLBACK = "port-fallback"


def cmd_who(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """The container holding a port, attributed as `ports` does; else the one publishing it (exact, any, fallback).

    The host's sockets on the port come first (a host-network container's
    process, pasta, docker-proxy, ...); when none names a container, the
    daemons' published bindings decide: `via` binding, port-fallback, or
    unheld when psutil sees no socket there at all (kernel forwarding).
    """
    try:
        ip, port, protocol = parse_target(args.target)
    except ValueError as exc:
        raise UsageError(_message(exc)) from None
    from dockspec.detect import begin_detection, trust_of

    pending = begin_detection(env=env)  # the daemons answer while this thread lists the host's sockets
    sockets = _sockets_on(ip, port, protocol)
    detection = _usable(pending.detection(), err)
    # What each daemon may name, by who serves it (docs/security.md, the trust rule): the holders of the
    # host's sockets on that port first, each judged by its holder; then the trusted daemons' bindings.
    trust = trust_of(detection, env)
    what = f"{protocol.value} port {port}" if ip is None else f"{protocol.value} {_address(ip, port)}"
    holders = _holders(sockets, detection, env, trust) if sockets else {}
    found: list[tuple[ContainerInfo, str | None, str | None]] = []  # container, via, engine of a cgroup match
    if holders:
        found = [(c, a.via, a.engine) for _, (c, a) in sorted(holders.items())]
    else:
        match, via = _published(ip, port, protocol, trust)
        if sockets is not None and not sockets and match is not None:
            via = VIA_UNHELD  # no host socket on it: the kernel forwards it
        if isinstance(match, Found):
            found = [(match.container, via, None)]
        elif isinstance(match, Ambiguous):
            found = [(c, via, None) for c in match.candidates]
    status = {0: EXIT_NOT_FOUND, 1: EXIT_OK}.get(len(found), EXIT_AMBIGUOUS)
    if args.json:
        _print_json([{**_container_json(c, detection.engines, engine), "via": via} for c, via, engine in found], out)
        return status

    def line(c: ContainerInfo, engine: str | None) -> str:
        kind = detection.engines.get(c.daemon or "") or engine or "unknown"
        compose = "" if c.compose is None else f", compose {c.compose}"
        return _safe(f"{c} id {_short(c.id)} on {c.daemon or 'unknown daemon'} ({kind}){compose}")

    if status == EXIT_OK:
        print(f"{what}: {line(found[0][0], found[0][2])}", file=out)
    elif status == EXIT_AMBIGUOUS:
        print(f"{what} is published by {len(found)} containers:", file=out)
        for c, _, engine in found:
            print(f"  {line(c, engine)}", file=out)
    else:
        print(f"no container publishes {what}", file=out)
    return status


def _stop(force: bool) -> Callable[[argparse.Namespace, Env, TextIO, TextIO], int]:
    def command(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
        """Stop or kill one container; 0 only when it is (now or already) stopped. Says which daemon acted."""
        from dockspec.detect import request_stop

        action = "kill" if force else "stop"
        report = request_stop(
            args.container, force=force, timeout=getattr(args, "time", 10), env=env, daemon=args.daemon
        )
        if not report.answered and report.outcome is StopOutcome.FAILED:
            raise report.error()
        outcome, acted = report.outcome, report.daemon
        if args.json:
            _print_json(
                [{"container": args.container, "action": action, "outcome": outcome.value,
                  "daemon": acted.url if acted else None, "origin": acted.origin if acted else None}],
                out,
            )
        else:
            text = {
                StopOutcome.STOPPED: f"{args.container}: {'killed' if force else 'stopped'}",
                StopOutcome.ALREADY_STOPPED: f"{args.container}: already stopped",
                StopOutcome.NOT_FOUND: f"{args.container}: no such container on "
                + ("that daemon" if args.daemon else "any daemon"),
                StopOutcome.FAILED: f"{args.container}: {action} failed (a daemon refused or answered badly)",
            }[outcome]
            if acted is not None and outcome is StopOutcome.FAILED:
                where = f"{acted.origin or '-'}, {acted.url}"
                text = f"{args.container}: {action} failed at {where} (it refused or answered badly)"
            elif acted is not None:
                text += f" (by {acted.origin or '-'}, {acted.url})"
            print(_safe(text), file=out)
        return EXIT_OK if outcome in (StopOutcome.STOPPED, StopOutcome.ALREADY_STOPPED) else EXIT_NOT_FOUND

    return command


def cmd_endpoints(args: argparse.Namespace, env: Env, out: TextIO, err: TextIO) -> int:
    """Every endpoint dockspec would try, in order, and what each said: the first thing to run when nothing is found."""
    from dockspec.detect import probe_endpoints

    reports, _ = probe_endpoints(env=env, all_endpoints=True)
    if args.json:
        _print_json(
            [
                {
                    "url": r.endpoint.url,
                    "transport": r.endpoint.transport,
                    "address": r.endpoint.address,
                    "origin": r.endpoint.origin,
                    "expected_engine": r.endpoint.engine,
                    "reachable": r.reachable,
                    "ok": r.ok,
                    "engine": r.engine,
                    "version": r.version,
                    "elapsed_ms": round(r.elapsed * 1000, 1),
                    "containers": len(r.containers) if r.ok else None,
                    "local": r.local,
                    "served_by": r.served_by,
                    "error": r.error,
                }
                for r in reports
            ],
            out,
        )
    else:
        table = []
        for r in reports:
            if r.ok:
                status = f"ok, {len(r.containers)} running container{'s' if len(r.containers) != 1 else ''}"
            elif r.reachable:
                status = f"answered, but: {_one_line(r.error or '')}"
            else:
                status = f"unreachable: {_one_line(r.error or '')}"
            daemon = " ".join(x for x in (r.engine, r.version) if x) or "-"
            local = {True: "yes", False: "no", None: "-"}[r.local]
            row = [r.endpoint.origin or "-", r.endpoint.url, daemon, local, f"{r.elapsed * 1000:.0f} ms", status]
            table.append(row)
        print(_table(["ORIGIN", "URL", "DAEMON", "LOCAL", "TIME", "STATUS"], table), file=out)
    return EXIT_OK if any(r.ok for r in reports) else EXIT_NO_DAEMON


# ---------------------------------------------------------------- parser


class _Exit(Exception):
    """argparse is done (--help, --version, a usage error): main returns `status`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse writing to main's `out` and `err` and returning through _Exit, never sys.exit."""

    def __init__(self, *args: Any, out: TextIO, err: TextIO, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.out, self.err = out, err

    def print_usage(self, file: Any = None) -> None:
        super().print_usage(self.out if file is None else file)

    def print_help(self, file: Any = None) -> None:
        super().print_help(self.out if file is None else file)

    def error(self, message: str) -> NoReturn:
        self.print_usage(self.err)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.err.write(message)
        raise _Exit(status)


class _VersionAction(argparse.Action):
    """--version, with the text computed only when asked (importlib.metadata and the spec digest cost)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import dockspec
        from dockspec._generated import SPEC_DIGEST

        out = parser.out if isinstance(parser, _Parser) else sys.stdout
        out.write(f"dockspec {dockspec.__version__} (spec {SPEC_DIGEST})\n")
        parser.exit()


def _seconds(text: str) -> int:
    """`stop -t`: ASCII digits, 0 to daemons.MAX_STOP_SECONDS (a usage error otherwise, before any daemon is asked)."""
    from dockspec.daemons import MAX_STOP_SECONDS

    if not text.isascii() or not text.isdigit() or len(text) > 6 or int(text) > MAX_STOP_SECONDS:
        raise argparse.ArgumentTypeError(f"not a number of seconds from 0 to {MAX_STOP_SECONDS}: {text!r}")
    return int(text)


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port from 1 to 65535: {text!r}")
    return int(text)


def build_parser(out: TextIO | None = None, err: TextIO | None = None) -> argparse.ArgumentParser:
    """The argparse tree, printing to `out` and `err` (stdout, stderr); every subcommand takes --json."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = _Parser(
        out=out,
        err=err,
        prog="dockspec",
        description="Which container owns this host port? Asks Docker and Podman daemons directly.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    common = _Parser(out=out, err=err, add_help=False)
    common.add_argument("--json", action="store_true", help="print a JSON list of objects (docs/cli.md)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, func: Callable[[argparse.Namespace, Env, TextIO, TextIO], int], **kwargs: Any) -> _Parser:
        parsed = sub.add_parser(name, out=out, err=err, parents=[common], **kwargs)
        parsed.set_defaults(func=func)
        return parsed

    ports = command("ports", cmd_ports, help="listening sockets and the containers that own them")
    ports.add_argument("--containers-only", action="store_true", help="hide sockets no container owns")
    ports.add_argument("port", metavar="PORT", nargs="?", type=_port, help="only sockets on this local port")
    ports.add_argument("-t", "--tcp", action="store_true", help="only TCP sockets (with --udp: both)")
    ports.add_argument("-u", "--udp", action="store_true", help="only UDP sockets (with --tcp: both)")
    ports.add_argument("--watch", action="store_true", help="redraw the table whenever it changes (Ctrl-C ends)")
    command("events", cmd_events, help="one line per published socket that comes or goes (Ctrl-C ends)")
    command("ps", cmd_ps, help="running containers of every daemon, with published ports")
    who = command(
        "who",
        cmd_who,
        help="which container publishes PORT[/udp] or ADDR:PORT[/udp]",
        description="Exit 0 found, 1 no container, 2 ambiguous. Without ADDR any address matches.",
    )
    who.add_argument("target", metavar="[ADDR:]PORT[/udp]", help="e.g. 8080, 5353/udp, 127.0.0.1:8080, [::1]:8080")
    for name, force, text in (
        ("stop", False, "stop a container (SIGTERM, then SIGKILL after --time s)"),
        ("kill", True, "kill a container (SIGKILL)"),
    ):
        stop = command(name, _stop(force), help=text, description=f"{text}. Exit 0 when stopped or already stopped.")
        stop.add_argument("container", metavar="ID|NAME")
        stop.add_argument(
            "--daemon", metavar="ORIGIN|URL", help="act on this daemon only (an ORIGIN or URL of `dockspec endpoints`)"
        )
        if not force:
            stop.add_argument(
                "-t", "--time", type=_seconds, default=10, help="seconds the daemon waits before SIGKILL (default 10)"
            )
    command("endpoints", cmd_endpoints, help="every endpoint tried, in order, and what each answered")
    return parser


# ---------------------------------------------------------------- entry point


def _env_from(environ: Mapping[str, str]) -> Env:
    """An Env for a mapping of variables: HOME and the XDG directories from it, the uid this process's."""
    getuid = getattr(os, "getuid", None)
    return Env(
        platform=_platform_family(sys.platform),
        uid=getuid() if getuid is not None else None,
        home=environ.get("HOME") or None,
        xdg_runtime_dir=environ.get("XDG_RUNTIME_DIR") or None,
        xdg_data_home=environ.get("XDG_DATA_HOME") or None,
        environ=environ,
    )


def _quiet(out: TextIO) -> None:
    """After a closed pipe (`dockspec ports | head`): `out`'s descriptor to /dev/null, for a quiet final flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _tolerant(stream: TextIO) -> TextIO:
    """The process's own stdout or stderr, writing what its encoding cannot hold as backslash escapes.

    An ASCII-only stream (PYTHONIOENCODING=ascii, LANG=C on old Pythons)
    met a container name in UTF-8 with UnicodeEncodeError; `wéb` is now
    printed `w\\xe9b`. JSON output is ASCII already (json.dumps escapes).
    """
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict":
        try:
            stream.reconfigure(errors="backslashreplace")
        except (ValueError, OSError):
            pass
    return stream


def main(
    argv: Sequence[str] | None = None,
    env: Env | Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run one `dockspec` command; returns its exit status.

    The console script and `python -m dockspec` call it with nothing: the
    process's arguments, environment, stdout and stderr. `env` may be an Env
    or a mapping of environment variables.
    """
    out = _tolerant(sys.stdout) if out is None else out
    err = _tolerant(sys.stderr) if err is None else err
    try:
        try:
            args = build_parser(out, err).parse_args(argv)
        except _Exit as done:
            return done.status
        if env is None:
            env = Env.from_os()
        elif not isinstance(env, Env):
            env = _env_from(env)
        status: int = args.func(args, env, out, err)
        out.flush()
        return status
    except BrokenPipeError:
        _quiet(out)
        return EXIT_NOT_FOUND
    except (Exception, KeyboardInterrupt) as exc:
        status_of = _status_of(exc)
        if status_of is None:
            raise
        if not isinstance(exc, KeyboardInterrupt):
            print(_safe(f"dockspec: {_message(exc)}"), file=err)
            if isinstance(exc, _HINTED):
                print(HINT, file=err)
        return status_of
